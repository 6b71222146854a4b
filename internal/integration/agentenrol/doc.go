// Package agentenrol tests the agent's enrolment and key rotation against
// a real central: two daemons talking over HTTP, which is why the test
// lives here and not beside either of them.
package agentenrol
