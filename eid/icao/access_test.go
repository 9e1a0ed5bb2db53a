package icao

import (
	"testing"

	"github.com/guichet/guichet/device/cardreader"
)

func TestAccess(t *testing.T) {
	want := cardreader.Access{DocumentNumber: "L898902C3", BirthDate: "740812", ExpiryDate: "120415"}
	for _, in := range []string{
		"L898902C36UTO7408122F1204159ZE184226B<<<<<10",
		"P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10",
	} {
		a, err := AccessFromMRZ(in)
		if err != nil || a != want {
			t.Errorf("AccessFromMRZ(%q) = %+v, %v", in, a, err)
		}
	}
	if a, err := ParseAccess(" l898902c3 ,740812,120415"); err != nil || a != want {
		t.Errorf("ParseAccess = %+v, %v", a, err)
	}
	for _, bad := range []string{"L898902C46UTO7408122F1204159ZE184226B<<<<<10", "", "garbage", "L898902C36UTO7408132F1204159ZE184226B<<<<<10"} {
		if _, err := AccessFromMRZ(bad); err == nil {
			t.Errorf("AccessFromMRZ(%q) accepted", bad)
		}
	}
	for _, bad := range []string{"", "A,B", "L898902C3,7408,120415", "L898902C3,740812,120415,1", "L8?,740812,120415"} {
		if _, err := ParseAccess(bad); err == nil {
			t.Errorf("ParseAccess(%q) accepted", bad)
		}
	}
}
