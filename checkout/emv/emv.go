// Package emv builds and parses EMVCo merchant-presented QR payloads: the
// text a shop shows as a QR code for the customer's app to scan, as defined
// by EMV QR Code Specification for Payment Systems (EMV QRCPS),
// Merchant-Presented Mode, version 1.1 (November 2020).
//
// A payload is a sequence of data objects, each a two-digit ID, a two-digit
// length and a value (§4.1). The length counts characters, not bytes, which
// matters for the merchant information language template (ID 64) whose
// values may be in any script. Object 00 (payload format indicator, "01")
// comes first and object 63 (a CRC-16/CCITT-FALSE over everything before
// its value) comes last; the others may come in any order, and Build writes
// them in ascending ID order.
//
// Payloads can carry the merchant's name and account identifiers but never
// the customer's data; they may be logged.
package emv

import (
	"errors"
	"fmt"
)

// MaxLen is the longest payload, in bytes, that Parse accepts: 2953 is the
// byte capacity of the largest QR code (version 40, error correction level
// L, ISO/IEC 18004:2015 Table 7), so nothing longer can have been scanned
// from one.
const MaxLen = 2953

// Values of the point of initiation method, ID 01 (§4.7.2).
const (
	// Static marks a code shown for many transactions (a sticker at the till).
	Static = "11"
	// Dynamic marks a code generated for one transaction, usually with its
	// amount.
	Dynamic = "12"
)

// Values of the tip or convenience indicator, ID 55 (§4.7.8).
const (
	// PromptTip asks the customer's app to prompt for a tip.
	PromptTip = "01"
	// FixedFee adds the fixed convenience fee in ID 56.
	FixedFee = "02"
	// PercentageFee adds the percentage convenience fee in ID 57.
	PercentageFee = "03"
)

// Field is one data object kept as it was read: an RFU object (IDs 65-79)
// or a sub-field of a template that this package does not interpret.
type Field struct {
	ID    string `json:"id"`
	Value string `json:"value"`
}

// MerchantAccount is one merchant account information object, IDs 02-51
// (§4.7.5). IDs 02-25 are reserved for particular payment networks (02-03
// Visa, 04-05 Mastercard, 15-16 UnionPay...) and hold one primitive value;
// IDs 26-51 are templates whose sub-field 00 is a globally unique identifier
// of the payment system (an AID, a reverse domain name or a UUID) and whose
// other sub-fields that system defines.
type MerchantAccount struct {
	ID string `json:"id"`
	// Value is the primitive value of IDs 02-25; empty for templates.
	Value string `json:"value,omitempty"`
	// GUI is sub-field 00 of the templates 26-51.
	GUI string `json:"gui,omitempty"`
	// Fields are the other sub-fields of the templates 26-51, in order.
	Fields []Field `json:"fields,omitempty"`
}

// Template is one unreserved template, IDs 80-99 (§4.8), which the payment
// system named by its globally unique identifier (sub-field 00) defines.
type Template struct {
	ID     string  `json:"id"`
	GUI    string  `json:"gui"`
	Fields []Field `json:"fields,omitempty"`
}

// AdditionalData is the additional data field template, ID 62 (§4.7.11):
// references that the customer's app shows or sends back with the payment.
type AdditionalData struct {
	BillNumber     string `json:"bill_number,omitempty"`     // 01
	MobileNumber   string `json:"mobile_number,omitempty"`   // 02
	StoreLabel     string `json:"store_label,omitempty"`     // 03
	LoyaltyNumber  string `json:"loyalty_number,omitempty"`  // 04
	ReferenceLabel string `json:"reference_label,omitempty"` // 05
	CustomerLabel  string `json:"customer_label,omitempty"`  // 06
	TerminalLabel  string `json:"terminal_label,omitempty"`  // 07
	Purpose        string `json:"purpose,omitempty"`         // 08
	// ConsumerDataRequest (09) lists what the app should ask the customer
	// for: any of "A" (address), "M" (mobile number), "E" (e-mail).
	ConsumerDataRequest string `json:"consumer_data_request,omitempty"`
	MerchantTaxID       string `json:"merchant_tax_id,omitempty"`  // 10
	MerchantChannel     string `json:"merchant_channel,omitempty"` // 11
	// Other holds RFU sub-fields and the payment system specific templates
	// 50-99, in order.
	Other []Field `json:"other,omitempty"`
}

// Language is the merchant information language template, ID 64 (§4.7.12):
// the merchant's name and city in a second language, such as Chinese.
type Language struct {
	// Preference is an ISO 639-1 language code, such as "ZH" (00).
	Preference string `json:"language_preference"`
	Name       string `json:"merchant_name"`           // 01
	City       string `json:"merchant_city,omitempty"` // 02
	// Other holds the RFU sub-fields 03-99, in order.
	Other []Field `json:"other,omitempty"`
}

// Payload is one merchant-presented QR payload. Build turns it into text
// and Parse reads it back; each field names its data object ID.
type Payload struct {
	// FormatIndicator is ID 00; Build writes "01", the only defined value,
	// when it is empty.
	FormatIndicator string `json:"payload_format_indicator"`
	// Initiation is ID 01: Static, Dynamic, or empty for unspecified.
	Initiation string `json:"point_of_initiation_method,omitempty"`
	// Accounts are IDs 02-51, at least one.
	Accounts []MerchantAccount `json:"merchant_account_information"`
	// MCC is ID 52, the ISO 18245 merchant category code, 4 digits.
	MCC string `json:"merchant_category_code"`
	// Currency is ID 53, the ISO 4217 numeric currency code, 3 digits
	// ("156" for the yuan).
	Currency string `json:"transaction_currency"`
	// Amount is ID 54, in the currency's major unit with "." as decimal
	// mark ("12.34"); empty to let the customer enter it.
	Amount string `json:"transaction_amount,omitempty"`
	// TipIndicator is ID 55: PromptTip, FixedFee, PercentageFee or empty.
	TipIndicator string `json:"tip_or_convenience_indicator,omitempty"`
	// FeeFixed is ID 56, present exactly when TipIndicator is FixedFee.
	FeeFixed string `json:"convenience_fee_fixed,omitempty"`
	// FeePercentage is ID 57, present exactly when TipIndicator is
	// PercentageFee ("3.5" for 3.5 %).
	FeePercentage string `json:"convenience_fee_percentage,omitempty"`
	// Country is ID 58, the ISO 3166-1 alpha-2 country code ("CN").
	Country string `json:"country_code"`
	// MerchantName is ID 59, at most 25 characters.
	MerchantName string `json:"merchant_name"`
	// City is ID 60, at most 15 characters.
	City string `json:"merchant_city"`
	// PostalCode is ID 61, at most 10 characters.
	PostalCode string `json:"postal_code,omitempty"`
	// Additional is ID 62, or nil.
	Additional *AdditionalData `json:"additional_data,omitempty"`
	// Language is ID 64, or nil.
	Language *Language `json:"merchant_information_language,omitempty"`
	// RFU holds IDs 65-79, reserved for future use by EMVCo, in order.
	RFU []Field `json:"rfu,omitempty"`
	// Unreserved holds the templates 80-99, in order.
	Unreserved []Template `json:"unreserved_templates,omitempty"`
	// CRC is ID 63 as Parse read it (four hexadecimal digits). Build
	// ignores it and computes its own.
	CRC string `json:"crc,omitempty"`
}

// IsDynamic reports whether p was generated for one transaction.
func (p *Payload) IsDynamic() bool { return p.Initiation == Dynamic }

// The kinds of error that Parse and Build return; test with errors.Is.
var (
	// ErrTooLong reports a payload longer than MaxLen.
	ErrTooLong = errors.New("payload too long")
	// ErrSyntax reports an ID or length that is not two ASCII digits, or
	// text that is not UTF-8.
	ErrSyntax = errors.New("bad syntax")
	// ErrLength reports a length that runs past the end of the payload or
	// template, a zero length, or a value longer than its field allows.
	ErrLength = errors.New("bad length")
	// ErrCRC reports a CRC that does not match the payload, or a CRC
	// object that is malformed or not last.
	ErrCRC = errors.New("bad CRC")
	// ErrTemplate reports a template (IDs 26-51, 62, 64, 80-99) whose
	// content is not a well-formed sequence of sub-fields, or lacks a
	// mandatory sub-field.
	ErrTemplate = errors.New("malformed template")
	// ErrMissing reports a mandatory data object that is absent.
	ErrMissing = errors.New("missing mandatory field")
	// ErrDuplicate reports an ID that occurs twice at the same level.
	ErrDuplicate = errors.New("duplicate ID")
	// ErrValue reports a value outside what its field allows, or a data
	// object out of place.
	ErrValue = errors.New("bad value")
)

// Error is an error in a payload. Offset counts characters from the start
// of the payload (not bytes), so that it can be found in what a scanner
// printed.
type Error struct {
	Kind   error  // one of the Err* values of this package
	ID     string // the data object, "62" or "62.05" for a sub-field; empty if none
	Offset int    // where the offending object starts; -1 if it is not about one place
	Reason string
}

// Error says what is wrong.
func (e *Error) Error() string {
	msg := "emv: " + e.Kind.Error()
	if e.ID != "" {
		msg += " in " + e.ID
	}
	if e.Offset >= 0 {
		msg += fmt.Sprintf(" at offset %d", e.Offset)
	}
	return msg + ": " + e.Reason
}

// Unwrap returns the kind of error, for errors.Is.
func (e *Error) Unwrap() error { return e.Kind }

func errorf(kind error, id string, off int, format string, args ...any) *Error {
	return &Error{Kind: kind, ID: id, Offset: off, Reason: fmt.Sprintf(format, args...)}
}

// names of the top-level data objects, for error messages.
var names = map[string]string{
	"00": "payload format indicator",
	"01": "point of initiation method",
	"52": "merchant category code",
	"53": "transaction currency",
	"54": "transaction amount",
	"55": "tip or convenience indicator",
	"56": "value of convenience fee fixed",
	"57": "value of convenience fee percentage",
	"58": "country code",
	"59": "merchant name",
	"60": "merchant city",
	"61": "postal code",
	"62": "additional data field template",
	"63": "CRC",
	"64": "merchant information language template",
}

// Amount formats minor units of a currency with exp decimal places as a
// transaction amount: Amount(1234, 2) is "12.34", Amount(5, 0) is "5". It
// returns "" for a negative amount, which no payload may carry.
func Amount(minor int64, exp int) string {
	if minor < 0 || exp < 0 || exp > 18 {
		return ""
	}
	s := fmt.Sprintf("%0*d", exp+1, minor)
	if exp == 0 {
		return s
	}
	return s[:len(s)-exp] + "." + s[len(s)-exp:]
}
