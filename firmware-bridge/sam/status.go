package sam

import "fmt"

// Command is a command byte and its parameter byte, CMD and Para of the SAM
// module communication protocol (table 9), as one number: 0x2001 is CMD 20,
// Para 01.
type Command uint16

// The commands this package sends. The module answers each with a status
// word and, for some, data.
const (
	CmdReset      Command = 0x10FF // reset the SAM
	CmdStatus     Command = 0x11FF // SAM status check
	CmdSAMID      Command = 0x12FF // read the SAM management information (its number)
	CmdFindCard   Command = 0x2001 // search for a card in the field; success is status 9F
	CmdSelectCard Command = 0x2002 // select the card found
	CmdReadBase   Command = 0x3001 // read the fixed information: text block and photo
)

var commandNames = map[Command]string{
	CmdReset:      "reset",
	CmdStatus:     "status",
	CmdSAMID:      "read SAM ID",
	CmdFindCard:   "find card",
	CmdSelectCard: "select card",
	CmdReadBase:   "read base information",
}

// String names the command as the protocol's table does.
func (c Command) String() string {
	if n, ok := commandNames[c]; ok {
		return n
	}
	return fmt.Sprintf("command %02X %02X", byte(c>>8), byte(c))
}

// Status is SW3, the module's own status byte in a reply; SW1 and SW2
// forward the card's APDU status and are 00 00 for the module's own
// statuses. A Status other than StatusOK and StatusFound is an error, so
// that errors.Is(err, sam.StatusNoCard) tests a returned error.
type Status byte

// The status bytes of the protocol's status table.
const (
	StatusOK             Status = 0x90 // operation succeeded
	StatusNoContent      Status = 0x91 // the card holds nothing for this item
	StatusFound          Status = 0x9F // find card succeeded
	StatusChecksum       Status = 0x10 // the module received a frame with a bad checksum
	StatusLength         Status = 0x11 // the module received a frame with a bad length
	StatusCommand        Status = 0x21 // bad command, value or sequence of commands
	StatusUnauthorisedOp Status = 0x23 // operation not allowed
	StatusUnrecognised   Status = 0x24 // unrecognised error
	StatusCardAuth       Status = 0x31 // the card failed to authenticate the module
	StatusModuleAuth     Status = 0x32 // the module failed to authenticate the card
	StatusVerify         Status = 0x33 // information verification error
	StatusWrongCard      Status = 0x40 // wrong card type
	StatusReadFailed     Status = 0x41 // reading the card failed
	StatusRandom         Status = 0x47 // getting a random number failed
	StatusSelfTest       Status = 0x60 // module self-test failed; it accepts no command
	StatusNotAuthorised  Status = 0x66 // module not authorised for use
	StatusNoCard         Status = 0x80 // find card found no card
	StatusSelectFailed   Status = 0x81 // selecting the card failed
)

var statusText = map[Status]string{
	StatusOK:             "success",
	StatusNoContent:      "no content for this item",
	StatusFound:          "card found",
	StatusChecksum:       "module received a bad checksum",
	StatusLength:         "module received a bad length",
	StatusCommand:        "command error",
	StatusUnauthorisedOp: "operation not allowed",
	StatusUnrecognised:   "unrecognised error",
	StatusCardAuth:       "card failed to authenticate the module",
	StatusModuleAuth:     "module failed to authenticate the card",
	StatusVerify:         "information verification error",
	StatusWrongCard:      "wrong card type",
	StatusReadFailed:     "reading the card failed",
	StatusRandom:         "getting a random number failed",
	StatusSelfTest:       "module self-test failed",
	StatusNotAuthorised:  "module not authorised",
	StatusNoCard:         "no card found",
	StatusSelectFailed:   "selecting the card failed",
}

// Error describes the status, so that a Status can be an error.
func (s Status) Error() string {
	if t, ok := statusText[s]; ok {
		return fmt.Sprintf("sam: status %02X: %s", byte(s), t)
	}
	return fmt.Sprintf("sam: unknown status %02X", byte(s))
}

// StatusError is a reply whose status says the command failed.
type StatusError struct {
	Command  Command
	SW1, SW2 byte
	Status   Status
}

// Error describes the failed command and its status word.
func (e *StatusError) Error() string {
	t := statusText[e.Status]
	if t == "" {
		t = "unknown status"
	}
	return fmt.Sprintf("sam: %s: status %02X %02X %02X: %s", e.Command, e.SW1, e.SW2, byte(e.Status), t)
}

// Unwrap returns the Status, for errors.Is.
func (e *StatusError) Unwrap() error { return e.Status }
