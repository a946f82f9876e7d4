package httpapi

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

var ginParam = regexp.MustCompile(`:([a-z_]+)`)

// TestOpenAPIDescribesEveryRoute fails when a route is registered without
// being described (or described without being registered).
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	engine := New(Deps{Metrics: http.NotFoundHandler()}).(*gin.Engine)
	doc := openAPIDocument("test")
	paths := doc["paths"].(map[string]any)
	registered := map[string]bool{}
	for _, r := range engine.Routes() {
		p := pathParam.ReplaceAllString(r.Path, "{$1}")
		p = ginParam.ReplaceAllString(p, "{$1}")
		key := r.Method + " " + p
		registered[key] = true
		item, ok := paths[p].(map[string]any)
		if !ok || item[strings.ToLower(r.Method)] == nil {
			t.Errorf("route %s is not in the OpenAPI document", key)
		}
	}
	for p, item := range paths {
		for m := range item.(map[string]any) {
			key := strings.ToUpper(m) + " " + p
			if !registered[key] && key != "GET /api/ready" {
				t.Errorf("the OpenAPI document describes %s, which is not registered", key)
			}
		}
	}
	if len(registered) < 20 {
		t.Fatalf("only %d routes registered; the test is not looking at the real router", len(registered))
	}
}
