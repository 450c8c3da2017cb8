package webhookcheck

import "strings"

// Classes of getWebhookInfo's last_error_message: the closed set of the
// reason label of dispatcher_telegram_webhook_last_error_timestamp_seconds
// (Telegram's messages are free text, e.g. "Wrong response from the
// webhook: 502 Bad Gateway", "SSL error {error:...}", "Connection timed
// out", "Failed to resolve host: Name or service not known").
const (
	ReasonNone       = "NONE"       // no error reported
	ReasonDNS        = "DNS"        // the host did not resolve
	ReasonTLS        = "TLS"        // TLS handshake or certificate refused
	ReasonConnection = "CONNECTION" // connection refused, reset or unreachable
	ReasonTimeout    = "TIMEOUT"    // connect or read timed out
	ReasonHTTP4xx    = "HTTP_4XX"   // the webhook answered 4xx (401: wrong WEBHOOK_SECRET...)
	ReasonHTTP5xx    = "HTTP_5XX"   // the webhook answered 5xx (503: backlog full, Redis down, the ingress)
	ReasonOther      = "OTHER"      // any other message
)

// Reasons returns the closed set of reason label values.
func Reasons() []string {
	return []string{ReasonNone, ReasonDNS, ReasonTLS, ReasonConnection, ReasonTimeout, ReasonHTTP4xx, ReasonHTTP5xx, ReasonOther}
}

// Classify returns the class of one last_error_message ("" is NONE).
func Classify(msg string) string {
	m := strings.ToLower(strings.TrimSpace(msg))
	switch {
	case m == "":
		return ReasonNone
	case strings.Contains(m, "wrong response from the webhook: 4"):
		return ReasonHTTP4xx
	case strings.Contains(m, "wrong response from the webhook: 5"):
		return ReasonHTTP5xx
	case strings.Contains(m, "resolve host") || strings.Contains(m, "name or service not known") ||
		strings.Contains(m, "no address associated"):
		return ReasonDNS
	case strings.Contains(m, "ssl") || strings.Contains(m, "tls") || strings.Contains(m, "certificate"):
		return ReasonTLS
	case strings.Contains(m, "timed out") || strings.Contains(m, "timeout"):
		return ReasonTimeout
	case strings.Contains(m, "connection") || strings.Contains(m, "connect") || strings.Contains(m, "unreachable"):
		return ReasonConnection
	}
	return ReasonOther
}
