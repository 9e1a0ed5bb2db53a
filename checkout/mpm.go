package checkout

import (
	"fmt"

	"github.com/guichet/guichet/checkout/emv"
)

// Merchant is the shop as a merchant-presented QR code describes it.
type Merchant struct {
	Name, City, MCC, Country string
	AccountGUI, AccountID    string
}

// numericCurrency maps the currencies the appliance is set up for to their
// ISO 4217 numeric codes, which EMV QR codes carry.
var numericCurrency = map[string]string{"CNY": "156", "EUR": "978", "USD": "840", "HKD": "344", "GBP": "826", "JPY": "392",
	"KRW": "410", "BHD": "048", "SGD": "702", "THB": "764"}

// MerchantQR builds the dynamic EMVCo merchant-presented QR payload for
// amount (minor units), for the customer to scan with a wallet app; ref is
// the order reference the wallet sends back. With amount 0 it builds the
// static code, where the customer types the amount.
func MerchantQR(m Merchant, currency string, amount int64, ref string) (string, error) {
	num, ok := numericCurrency[currency]
	if !ok {
		return "", fmt.Errorf("%w: currency %s has no known ISO 4217 number", ErrInput, currency)
	}
	p := emv.Payload{
		Initiation:   "11",
		Accounts:     []emv.MerchantAccount{{ID: "26", GUI: m.AccountGUI, Fields: []emv.Field{{ID: "01", Value: m.AccountID}}}},
		MCC:          m.MCC,
		Currency:     num,
		Country:      m.Country,
		MerchantName: m.Name,
		City:         m.City,
	}
	if amount > 0 {
		p.Initiation = "12"
		p.Amount = emv.Amount(amount, Scale(currency)) // 1234 is "1234" in JPY, "12.34" in CNY
		p.Additional = &emv.AdditionalData{ReferenceLabel: ref}
	}
	s, err := p.Build()
	if err != nil {
		return "", fmt.Errorf("checkout: merchant QR: %w", err)
	}
	return s, nil
}
