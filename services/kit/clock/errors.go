package clock

import "errors"

// ErrInvalidSetting is wrapped by every validation error of clock settings.
var ErrInvalidSetting = errors.New("invalid clock setting")
