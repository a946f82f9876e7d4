// Package dispatch is the JetStream-aware part of Tagstream's command
// side: the dispatcher that turns job control events into tasks, the task
// queue, and the workers that schedule tasks through the tagging pipeline
// and append each document's outcome. Every decision about a job is taken
// by package job on the log; this package only moves work.
package dispatch
