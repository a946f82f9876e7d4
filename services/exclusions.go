package services

import (
	"errors"

	"github.com/tagstream/tagstream/internal/apperr"
	"github.com/tagstream/tagstream/internal/tagging"
)

// ParseExclusionList parses an exclusion list file with the one parser
// the CLI uses too; a problem is an input error on field naming its line.
func ParseExclusionList(field, text string) ([]string, error) {
	words, err := tagging.ParseExclusionList(text)
	var le *tagging.ListError
	if errors.As(err, &le) {
		if le.Line == 0 && len(text) > tagging.MaxExclusionListBytes {
			return nil, &apperr.Error{Code: apperr.TooLarge, Field: field, Message: field + ": " + le.Error()}
		}
		return nil, apperr.Field(field, "%s", le.Error())
	}
	return words, err
}
