package keywords

import "strings"

// stopWords are English function words plus the modal and boilerplate
// verbs of official letters ("shall", "hereby", "undersigned"): a phrase
// may contain them in the middle ("ministry of jal shakti") but never
// start or end with one.
// connectors are the stop words allowed inside a phrase. Only "of", as in
// names ("ministry of jal shakti"): "and" and "for" mostly glue two
// separate subjects together ("guidelines for water quality"), and any
// other stop word in the middle ("work any work") marks a clause.
var connectors = map[string]bool{"of": true}

var stopWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`
a about above after again against all also although am among an and another any anyone are
around as at be because been before being below between both but by can cannot could
did do does doing done down during each either else etc even ever every few for from
further had has have having he her here hers herself him himself his how however i if in
into is it its itself just least less like made make many may me might more most much must
my myself near neither no nor not now of off on once one only onto or other others otherwise
our ours ourselves out over own per perhaps please rather same see seen several shall she
should since so some such than that the their theirs them themselves then there thereby
therefore these they this those though through thus to too toward towards under until up
upon us use used using various very via was we were what whatever when where whereas whether
which while who whom whose why will with within without would yet you your yours yourself
yourselves
hereby herein thereof therein undersigned aforesaid said following follows including
include includes given get got new within whereby wherein viz ie eg
first second third fourth fifth sixth seventh eighth ninth tenth
two three four five six seven eight nine ten eleven twelve hundred thousand
cent percent
km kg mg ml cm mm hrs pm nos rs inr crore crores lakh lakhs
`) {
		m[w] = true
	}
	return m
}()
