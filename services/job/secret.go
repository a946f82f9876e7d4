package job

import "fmt"

// SecretID names a job attempt's API key in the secret store. Keys are per
// attempt so that clean-up after one attempt can never delete the key a
// retry has just stored.
func SecretID(jobID string, attempt int) string { return fmt.Sprintf("%s.%d", jobID, attempt) }
