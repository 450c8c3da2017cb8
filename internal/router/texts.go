package router

// What users are told when the router (or a handler using these) refuses.
const (
	TextServerError   = "Server error, try again"
	TextExpired       = "Button expired, use /start"
	TextUnknownButton = "Unknown button, use /start"
	TextForbidden     = "Not allowed"
	TextUnknownText   = "I did not expect that. Use the buttons or /start"
	// TextNotActive is the reason_text of PASSIVE_REJECT (CONTRACT §4).
	TextNotActive = "Instance not ACTIVE"
)
