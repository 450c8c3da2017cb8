package menubot

// What the bot tells users.
const (
	textMainMenu      = "Choose a category"
	textModelPick     = "%s: choose a model"
	textPromptAsk     = "%s: describe what you want (at least %d characters)"
	textParamAsk      = "%s: choose %s"
	textConfirm       = "Check your job:\n%s\nQueue it?"
	textJobQueued     = "Job %s queued ✅"
	textCancelled     = "Cancelled"
	textPromptShort   = "Too short: at least %d characters, please"
	textPromptLong    = "Too long: at most %d characters, please"
	textUseButtons    = "Please pick one of the buttons"
	textUnknownValue  = "Unknown value, pick one of the buttons"
	textUnknownCmd    = "Unknown command. Use /start"
	textDebugPanel    = "Debug panel"
	textDebugClosed   = "Debug panel closed"
	textDebugOn       = "Debug logging on until %s"
	textDebugUsage    = "Usage: /debug [USER_ID]"
	textNoJournal     = "The event journal is not available"
	textNoDebugSetter = "The debug switch is not available"
	textNoCIDs        = "No recent updates for user %d"
	textUserDebug     = "User %d is in debug mode for %d min: the journal keeps their next chains in full"
	textResendOf      = "cid %s: a resend of cid %s (DUPLICATE_UPDATE)\n"
	textStaleText     = "That came in after another change. Use /start"
	textNotYourMenu   = "This menu is someone else's: send /start for your own"
)

// Labels of the fixed buttons.
const (
	labelBack       = "⬅ Back"
	labelCancel     = "✖ Cancel"
	labelConfirm    = "✅ Confirm"
	labelDebugOn30  = "Debug 30 min"
	labelDebugLast  = "Last CID"
	labelDebugClose = "Close"
)
