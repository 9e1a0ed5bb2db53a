package sam

import (
	"errors"
	"fmt"
	"time"

	"github.com/guichet/guichet/device/cardreader"
	"github.com/guichet/guichet/eid/idnumber"
)

// ErrCardData marks card data that is not to be trusted: an ID number whose
// check character does not hold, a birth date or sex that contradicts it, a
// code outside its table, a date that is not one.
var ErrCardData = errors.New("sam: card data not to be trusted")

// sexes maps the GB/T 2261.1 sex codes to the words printed on the card.
var sexes = map[string]string{
	"0": "未知",  // not known
	"1": "男",   // male
	"2": "女",   // female
	"9": "未说明", // not stated
}

// nations maps the GB 3304-1991 codes of the nationalities of China to
// their names as printed on the card (without the suffix 族).
var nations = map[string]string{
	"01": "汉", "02": "蒙古", "03": "回", "04": "藏", "05": "维吾尔",
	"06": "苗", "07": "彝", "08": "壮", "09": "布依", "10": "朝鲜",
	"11": "满", "12": "侗", "13": "瑶", "14": "白", "15": "土家",
	"16": "哈尼", "17": "哈萨克", "18": "傣", "19": "黎", "20": "傈僳",
	"21": "佤", "22": "畲", "23": "高山", "24": "拉祜", "25": "水",
	"26": "东乡", "27": "纳西", "28": "景颇", "29": "柯尔克孜", "30": "土",
	"31": "达斡尔", "32": "仫佬", "33": "羌", "34": "布朗", "35": "撒拉",
	"36": "毛南", "37": "仡佬", "38": "锡伯", "39": "阿昌", "40": "普米",
	"41": "塔吉克", "42": "怒", "43": "乌孜别克", "44": "俄罗斯", "45": "鄂温克",
	"46": "德昂", "47": "保安", "48": "裕固", "49": "京", "50": "塔塔尔",
	"51": "独龙", "52": "鄂伦春", "53": "赫哲", "54": "门巴", "55": "珞巴",
	"56": "基诺", "97": "其他", "98": "外国血统中国籍人士",
}

// NationName returns the name of the GB 3304 nationality code, or false.
func NationName(code string) (string, bool) {
	n, ok := nations[code]
	return n, ok
}

// SexName returns the word for the GB/T 2261.1 sex code, or false.
func SexName(code string) (string, bool) {
	s, ok := sexes[code]
	return s, ok
}

// Card turns the text block into a cardreader.Card of kind "cn-resident". It
// checks the ID number (GB 11643-1999: check character, address code, birth
// date) and that the birth date and sex fields agree with it: a card whose
// data does not hold together gives an error wrapping ErrCardData. Sex and
// nation are given as the words printed on the card ("男", "汉"); the
// nation goes in Nationality, which cardreader.Card uses for it. Dates are
// YYYY-MM-DD, and ExpiryDate is LongTerm for a card that does not expire.
// The photo is left to the caller.
func (t Text) Card() (*cardreader.Card, error) {
	num, err := idnumber.Parse(t.IDNumber)
	if err != nil {
		return nil, fmt.Errorf("%w: ID number: %w", ErrCardData, err)
	}
	birth, err := isoDate(t.Birth)
	if err != nil {
		return nil, fmt.Errorf("%w: birth date: %v", ErrCardData, err)
	}
	if birth != num.Birth.Format(time.DateOnly) {
		return nil, fmt.Errorf("%w: birth date differs from the one in the ID number", ErrCardData)
	}
	sex, ok := sexes[t.Sex]
	if !ok {
		return nil, fmt.Errorf("%w: sex code of %d characters outside GB/T 2261.1", ErrCardData, len(t.Sex))
	}
	if (t.Sex == "1" && !num.Male) || (t.Sex == "2" && num.Male) {
		return nil, fmt.Errorf("%w: sex differs from the one in the ID number", ErrCardData)
	}
	nation := ""
	if t.Nation != "" || t.Type != "J" { // residence permits carry no nation
		if nation, ok = nations[t.Nation]; !ok {
			return nil, fmt.Errorf("%w: nation code outside GB 3304", ErrCardData)
		}
	}
	expiry := t.ValidTo
	if expiry != LongTerm {
		if expiry, err = isoDate(t.ValidTo); err != nil {
			return nil, fmt.Errorf("%w: valid-to date: %v", ErrCardData, err)
		}
	}
	if _, err := isoDate(t.ValidFrom); err != nil {
		return nil, fmt.Errorf("%w: valid-from date: %v", ErrCardData, err)
	}
	if t.Name == "" {
		return nil, fmt.Errorf("%w: empty name", ErrCardData)
	}
	return &cardreader.Card{
		Kind:        "cn-resident",
		IDNumber:    normaliseX(t.IDNumber),
		Name:        t.Name,
		Sex:         sex,
		Nationality: nation,
		BirthDate:   birth,
		ExpiryDate:  expiry,
		Address:     t.Address,
		Issuer:      t.Issuer,
	}, nil
}

// isoDate turns YYYYMMDD into YYYY-MM-DD, checking it is a date.
func isoDate(s string) (string, error) {
	d, err := time.Parse("20060102", s)
	if err != nil || len(s) != 8 {
		return "", errors.New("not a YYYYMMDD date")
	}
	return d.Format(time.DateOnly), nil
}

func normaliseX(s string) string {
	if len(s) == idnumber.Len && s[idnumber.Len-1] == 'x' {
		return s[:idnumber.Len-1] + "X"
	}
	return s
}
