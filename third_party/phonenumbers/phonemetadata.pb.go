//
// Copyright (C) 2009 The Libphonenumber Authors
//
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
// http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.

// Definition of protocol buffer for holding metadata for international
// telephone numbers. The fields here correspond exactly to those in
// resources/PhoneNumberMetadata.xml.
// @author Shaopeng Jia

// The message types of phonemetadata.proto as plain Go structs, without the
// google.golang.org/protobuf runtime: the fields, struct tags, getters and
// defaults are those that protoc-gen-go (v1.25.0-devel) generated; the code
// at the end of this file (wire-format decoding, merging, comparison) is
// written by hand, see internal/proto. Keep both in step with the .proto file.

package phonenumbers

import (
	"slices"

	"github.com/nyaruka/phonenumbers/internal/proto"
)

type NumberFormat struct {
	// pattern is a regex that is used to match the national (significant)
	// number. For example, the pattern "(20)(\d{4})(\d{4})" will match number
	// "2070313000", which is the national (significant) number for Google London.
	// Note the presence of the parentheses, which are capturing groups what
	// specifies the grouping of numbers.
	Pattern *string `protobuf:"bytes,1,req,name=pattern" json:"pattern,omitempty"`
	// format specifies how the national (significant) number matched by
	// pattern should be formatted.
	// Using the same example as above, format could contain "$1 $2 $3",
	// meaning that the number should be formatted as "20 7031 3000".
	// Each $x are replaced by the numbers captured by group x in the
	// regex specified by pattern.
	Format *string `protobuf:"bytes,2,req,name=format" json:"format,omitempty"`
	// This field is a regex that is used to match a certain number of digits
	// at the beginning of the national (significant) number. When the match is
	// successful, the accompanying pattern and format should be used to format
	// this number. For example, if leading_digits="[1-3]|44", then all the
	// national numbers starting with 1, 2, 3 or 44 should be formatted using the
	// accompanying pattern and format.
	//
	// The first leadingDigitsPattern matches up to the first three digits of the
	// national (significant) number; the next one matches the first four digits,
	// then the first five and so on, until the leadingDigitsPattern can uniquely
	// identify one pattern and format to be used to format the number.
	//
	// In the case when only one formatting pattern exists, no
	// leading_digits_pattern is needed.
	LeadingDigitsPattern []string `protobuf:"bytes,3,rep,name=leading_digits_pattern,json=leadingDigitsPattern" json:"leading_digits_pattern,omitempty"`
	// This field specifies how the national prefix ($NP) together with the first
	// group ($FG) in the national significant number should be formatted in
	// the NATIONAL format when a national prefix exists for a certain country.
	// For example, when this field contains "($NP$FG)", a number from Beijing,
	// China (whose $NP = 0), which would by default be formatted without
	// national prefix as 10 1234 5678 in NATIONAL format, will instead be
	// formatted as (010) 1234 5678; to format it as (0)10 1234 5678, the field
	// would contain "($NP)$FG". Note $FG should always be present in this field,
	// but $NP can be omitted. For example, having "$FG" could indicate the
	// number should be formatted in NATIONAL format without the national prefix.
	// This is commonly used to override the rule specified for the territory in
	// the XML file.
	//
	// When this field is missing, a number will be formatted without national
	// prefix in NATIONAL format. This field does not affect how a number
	// is formatted in other formats, such as INTERNATIONAL.
	NationalPrefixFormattingRule *string `protobuf:"bytes,4,opt,name=national_prefix_formatting_rule,json=nationalPrefixFormattingRule" json:"national_prefix_formatting_rule,omitempty"`
	// This field specifies whether the $NP can be omitted when formatting a
	// number in national format, even though it usually wouldn't be. For example,
	// a UK number would be formatted by our library as 020 XXXX XXXX. If we have
	// commonly seen this number written by people without the leading 0, for
	// example as (20) XXXX XXXX, this field would be set to true. This will be
	// inherited from the value set for the territory in the XML file, unless a
	// national_prefix_optional_when_formatting is defined specifically for this
	// NumberFormat.
	NationalPrefixOptionalWhenFormatting *bool `protobuf:"varint,6,opt,name=national_prefix_optional_when_formatting,json=nationalPrefixOptionalWhenFormatting,def=0" json:"national_prefix_optional_when_formatting,omitempty"`
	// This field specifies how any carrier code ($CC) together with the first
	// group ($FG) in the national significant number should be formatted
	// when formatWithCarrierCode is called, if carrier codes are used for a
	// certain country.
	DomesticCarrierCodeFormattingRule *string `protobuf:"bytes,5,opt,name=domestic_carrier_code_formatting_rule,json=domesticCarrierCodeFormattingRule" json:"domestic_carrier_code_formatting_rule,omitempty"`
}

// Default values for NumberFormat fields.
const (
	Default_NumberFormat_NationalPrefixOptionalWhenFormatting = bool(false)
)

func (x *NumberFormat) Reset() {
	*x = NumberFormat{}
}

func (x *NumberFormat) String() string {
	return proto.Format(x)
}

func (*NumberFormat) ProtoMessage() {}

func (x *NumberFormat) GetPattern() string {
	if x != nil && x.Pattern != nil {
		return *x.Pattern
	}
	return ""
}

func (x *NumberFormat) GetFormat() string {
	if x != nil && x.Format != nil {
		return *x.Format
	}
	return ""
}

func (x *NumberFormat) GetLeadingDigitsPattern() []string {
	if x != nil {
		return x.LeadingDigitsPattern
	}
	return nil
}

func (x *NumberFormat) GetNationalPrefixFormattingRule() string {
	if x != nil && x.NationalPrefixFormattingRule != nil {
		return *x.NationalPrefixFormattingRule
	}
	return ""
}

func (x *NumberFormat) GetNationalPrefixOptionalWhenFormatting() bool {
	if x != nil && x.NationalPrefixOptionalWhenFormatting != nil {
		return *x.NationalPrefixOptionalWhenFormatting
	}
	return Default_NumberFormat_NationalPrefixOptionalWhenFormatting
}

func (x *NumberFormat) GetDomesticCarrierCodeFormattingRule() string {
	if x != nil && x.DomesticCarrierCodeFormattingRule != nil {
		return *x.DomesticCarrierCodeFormattingRule
	}
	return ""
}

// If you add, remove, or rename fields, or change their semantics, check if you
// should change the excludable field sets or the behavior in MetadataFilter.
type PhoneNumberDesc struct {
	// The national_number_pattern is the pattern that a valid national
	// significant number would match. This specifies information such as its
	// total length and leading digits.
	NationalNumberPattern *string `protobuf:"bytes,2,opt,name=national_number_pattern,json=nationalNumberPattern" json:"national_number_pattern,omitempty"`
	// These represent the lengths a phone number from this region can be. They
	// will be sorted from smallest to biggest. Note that these lengths are for
	// the full number, without country calling code or national prefix. For
	// example, for the Swiss number +41789270000, in local format 0789270000,
	// this would be 9.
	// This could be used to highlight tokens in a text that may be a phone
	// number, or to quickly prune numbers that could not possibly be a phone
	// number for this locale.
	PossibleLength []int32 `protobuf:"varint,9,rep,name=possible_length,json=possibleLength" json:"possible_length,omitempty"`
	// These represent the lengths that only local phone numbers (without an area
	// code) from this region can be. They will be sorted from smallest to
	// biggest. For example, since the American number 456-1234 may be locally
	// diallable, although not diallable from outside the area, 7 could be a
	// possible value.
	// This could be used to highlight tokens in a text that may be a phone
	// number.
	// To our knowledge, area codes are usually only relevant for some fixed-line
	// and mobile numbers, so this field should only be set for those types of
	// numbers (and the general description) - however there are exceptions for
	// NANPA countries.
	// This data is used to calculate whether a number could be a possible number
	// for a particular type.
	PossibleLengthLocalOnly []int32 `protobuf:"varint,10,rep,name=possible_length_local_only,json=possibleLengthLocalOnly" json:"possible_length_local_only,omitempty"`
	// An example national significant number for the specific type. It should
	// not contain any formatting information.
	ExampleNumber *string `protobuf:"bytes,6,opt,name=example_number,json=exampleNumber" json:"example_number,omitempty"`
}

func (x *PhoneNumberDesc) Reset() {
	*x = PhoneNumberDesc{}
}

func (x *PhoneNumberDesc) String() string {
	return proto.Format(x)
}

func (*PhoneNumberDesc) ProtoMessage() {}

func (x *PhoneNumberDesc) GetNationalNumberPattern() string {
	if x != nil && x.NationalNumberPattern != nil {
		return *x.NationalNumberPattern
	}
	return ""
}

func (x *PhoneNumberDesc) GetPossibleLength() []int32 {
	if x != nil {
		return x.PossibleLength
	}
	return nil
}

func (x *PhoneNumberDesc) GetPossibleLengthLocalOnly() []int32 {
	if x != nil {
		return x.PossibleLengthLocalOnly
	}
	return nil
}

func (x *PhoneNumberDesc) GetExampleNumber() string {
	if x != nil && x.ExampleNumber != nil {
		return *x.ExampleNumber
	}
	return ""
}

// If you add, remove, or rename fields, or change their semantics, check if you
// should change the excludable field sets or the behavior in MetadataFilter.
type PhoneMetadata struct {
	// The general_desc contains information which is a superset of descriptions
	// for all types of phone numbers. If any element is missing in the
	// description of a specific type in the XML file, the element will inherit
	// from its counterpart in the general_desc. For all types that are generally
	// relevant to normal phone numbers, if the whole type is missing in the
	// PhoneNumberMetadata XML file, it will not have national number data, and
	// the possible lengths will be [-1].
	GeneralDesc     *PhoneNumberDesc `protobuf:"bytes,1,opt,name=general_desc,json=generalDesc" json:"general_desc,omitempty"`
	FixedLine       *PhoneNumberDesc `protobuf:"bytes,2,opt,name=fixed_line,json=fixedLine" json:"fixed_line,omitempty"`
	Mobile          *PhoneNumberDesc `protobuf:"bytes,3,opt,name=mobile" json:"mobile,omitempty"`
	TollFree        *PhoneNumberDesc `protobuf:"bytes,4,opt,name=toll_free,json=tollFree" json:"toll_free,omitempty"`
	PremiumRate     *PhoneNumberDesc `protobuf:"bytes,5,opt,name=premium_rate,json=premiumRate" json:"premium_rate,omitempty"`
	SharedCost      *PhoneNumberDesc `protobuf:"bytes,6,opt,name=shared_cost,json=sharedCost" json:"shared_cost,omitempty"`
	PersonalNumber  *PhoneNumberDesc `protobuf:"bytes,7,opt,name=personal_number,json=personalNumber" json:"personal_number,omitempty"`
	Voip            *PhoneNumberDesc `protobuf:"bytes,8,opt,name=voip" json:"voip,omitempty"`
	Pager           *PhoneNumberDesc `protobuf:"bytes,21,opt,name=pager" json:"pager,omitempty"`
	Uan             *PhoneNumberDesc `protobuf:"bytes,25,opt,name=uan" json:"uan,omitempty"`
	Emergency       *PhoneNumberDesc `protobuf:"bytes,27,opt,name=emergency" json:"emergency,omitempty"`
	Voicemail       *PhoneNumberDesc `protobuf:"bytes,28,opt,name=voicemail" json:"voicemail,omitempty"`
	ShortCode       *PhoneNumberDesc `protobuf:"bytes,29,opt,name=short_code,json=shortCode" json:"short_code,omitempty"`
	StandardRate    *PhoneNumberDesc `protobuf:"bytes,30,opt,name=standard_rate,json=standardRate" json:"standard_rate,omitempty"`
	CarrierSpecific *PhoneNumberDesc `protobuf:"bytes,31,opt,name=carrier_specific,json=carrierSpecific" json:"carrier_specific,omitempty"`
	SmsServices     *PhoneNumberDesc `protobuf:"bytes,33,opt,name=sms_services,json=smsServices" json:"sms_services,omitempty"`
	// The rules here distinguish the numbers that are only able to be dialled
	// nationally.
	NoInternationalDialling *PhoneNumberDesc `protobuf:"bytes,24,opt,name=no_international_dialling,json=noInternationalDialling" json:"no_international_dialling,omitempty"`
	// The CLDR 2-letter representation of a country/region, with the exception of
	// "country calling codes" used for non-geographical entities, such as
	// Universal International Toll Free Number (+800). These are all given the ID
	// "001", since this is the numeric region code for the world according to UN
	// M.49: http://en.wikipedia.org/wiki/UN_M.49
	Id *string `protobuf:"bytes,9,req,name=id" json:"id,omitempty"`
	// The country calling code that one would dial from overseas when trying to
	// dial a phone number in this country. For example, this would be "64" for
	// New Zealand.
	CountryCode *int32 `protobuf:"varint,10,opt,name=country_code,json=countryCode" json:"country_code,omitempty"`
	// The international_prefix of country A is the number that needs to be
	// dialled from country A to another country (country B). This is followed
	// by the country code for country B. Note that some countries may have more
	// than one international prefix, and for those cases, a regular expression
	// matching the international prefixes will be stored in this field.
	InternationalPrefix *string `protobuf:"bytes,11,opt,name=international_prefix,json=internationalPrefix" json:"international_prefix,omitempty"`
	// If more than one international prefix is present, a preferred prefix can
	// be specified here for out-of-country formatting purposes. If this field is
	// not present, and multiple international prefixes are present, then "+"
	// will be used instead.
	PreferredInternationalPrefix *string `protobuf:"bytes,17,opt,name=preferred_international_prefix,json=preferredInternationalPrefix" json:"preferred_international_prefix,omitempty"`
	// The national prefix of country A is the number that needs to be dialled
	// before the national significant number when dialling internally. This
	// would not be dialled when dialling internationally. For example, in New
	// Zealand, the number that would be locally dialled as 09 345 3456 would be
	// dialled from overseas as +64 9 345 3456. In this case, 0 is the national
	// prefix.
	NationalPrefix *string `protobuf:"bytes,12,opt,name=national_prefix,json=nationalPrefix" json:"national_prefix,omitempty"`
	// The preferred prefix when specifying an extension in this country. This is
	// used for formatting only, and if this is not specified, a suitable default
	// should be used instead. For example, if you wanted extensions to be
	// formatted in the following way:
	// 1 (365) 345 445 ext. 2345
	// " ext. "  should be the preferred extension prefix.
	PreferredExtnPrefix *string `protobuf:"bytes,13,opt,name=preferred_extn_prefix,json=preferredExtnPrefix" json:"preferred_extn_prefix,omitempty"`
	// This field is used for cases where the national prefix of a country
	// contains a carrier selection code, and is written in the form of a
	// regular expression. For example, to dial the number 2222-2222 in
	// Fortaleza, Brazil (area code 85) using the long distance carrier Oi
	// (selection code 31), one would dial 0 31 85 2222 2222. Assuming the
	// only other possible carrier selection code is 32, the field will
	// contain "03[12]".
	//
	// When it is missing from the XML file, this field inherits the value of
	// national_prefix, if that is present.
	NationalPrefixForParsing *string `protobuf:"bytes,15,opt,name=national_prefix_for_parsing,json=nationalPrefixForParsing" json:"national_prefix_for_parsing,omitempty"`
	// This field is only populated and used under very rare situations.
	// For example, mobile numbers in Argentina are written in two completely
	// different ways when dialed in-country and out-of-country
	// (e.g. 0343 15 555 1212 is exactly the same number as +54 9 343 555 1212).
	// This field is used together with national_prefix_for_parsing to transform
	// the number into a particular representation for storing in the phonenumber
	// proto buffer in those rare cases.
	NationalPrefixTransformRule *string `protobuf:"bytes,16,opt,name=national_prefix_transform_rule,json=nationalPrefixTransformRule" json:"national_prefix_transform_rule,omitempty"`
	// Specifies whether the mobile and fixed-line patterns are the same or not.
	// This is used to speed up determining phone number type in countries where
	// these two types of phone numbers can never be distinguished.
	SameMobileAndFixedLinePattern *bool `protobuf:"varint,18,opt,name=same_mobile_and_fixed_line_pattern,json=sameMobileAndFixedLinePattern,def=0" json:"same_mobile_and_fixed_line_pattern,omitempty"`
	// Note that the number format here is used for formatting only, not parsing.
	// Hence all the varied ways a user *may* write a number need not be recorded
	// - just the ideal way we would like to format it for them. When this element
	// is absent, the national significant number will be formatted as a whole
	// without any formatting applied.
	NumberFormat []*NumberFormat `protobuf:"bytes,19,rep,name=number_format,json=numberFormat" json:"number_format,omitempty"`
	// This field is populated only when the national significant number is
	// formatted differently when it forms part of the INTERNATIONAL format
	// and NATIONAL format. A case in point is mobile numbers in Argentina:
	// The number, which would be written in INTERNATIONAL format as
	// +54 9 343 555 1212, will be written as 0343 15 555 1212 for NATIONAL
	// format. In this case, the prefix 9 is inserted when dialling from
	// overseas, but otherwise the prefix 0 and the carrier selection code
	// 15 (inserted after the area code of 343) is used.
	// Note: this field is populated by setting a value for <intlFormat> inside
	// the <numberFormat> tag in the XML file. If <intlFormat> is not set then it
	// defaults to the same value as the <format> tag.
	//
	// Examples:
	//   To set the <intlFormat> to a different value than the <format>:
	//     <numberFormat pattern=....>
	//       <format>$1 $2 $3</format>
	//       <intlFormat>$1-$2-$3</intlFormat>
	//     </numberFormat>
	//
	//   To have a format only used for national formatting, set <intlFormat> to
	//   "NA":
	//     <numberFormat pattern=....>
	//       <format>$1 $2 $3</format>
	//       <intlFormat>NA</intlFormat>
	//     </numberFormat>
	IntlNumberFormat []*NumberFormat `protobuf:"bytes,20,rep,name=intl_number_format,json=intlNumberFormat" json:"intl_number_format,omitempty"`
	// This field is set when this country is considered to be the main country
	// for a calling code. It may not be set by more than one country with the
	// same calling code, and it should not be set by countries with a unique
	// calling code. This can be used to indicate that "GB" is the main country
	// for the calling code "44" for example, rather than Jersey or the Isle of
	// Man.
	MainCountryForCode *bool `protobuf:"varint,22,opt,name=main_country_for_code,json=mainCountryForCode,def=0" json:"main_country_for_code,omitempty"`
	// This field is populated only for countries or regions that share a country
	// calling code. If a number matches this pattern, it could belong to this
	// region. This is not intended as a replacement for IsValidForRegion since a
	// matching prefix is insufficient for a number to be valid. Furthermore, it
	// does not contain all the prefixes valid for a region - for example, 800
	// numbers are valid for all NANPA countries and are hence not listed here.
	// This field should be a regular expression of the expected prefix match.
	// It is used merely as a short-cut for working out which region a number
	// comes from in the case that there is only one, so leading_digit prefixes
	// should not overlap.
	LeadingDigits *string `protobuf:"bytes,23,opt,name=leading_digits,json=leadingDigits" json:"leading_digits,omitempty"`
	// Deprecated: do not use. Will be deletd when there are no references to this
	// later.
	LeadingZeroPossible *bool `protobuf:"varint,26,opt,name=leading_zero_possible,json=leadingZeroPossible,def=0" json:"leading_zero_possible,omitempty"`
	// This field is set when this country has implemented mobile number
	// portability. This means that transferring mobile numbers between carriers
	// is allowed. A consequence of this is that phone prefix to carrier mapping
	// is less reliable.
	MobileNumberPortableRegion *bool `protobuf:"varint,32,opt,name=mobile_number_portable_region,json=mobileNumberPortableRegion,def=0" json:"mobile_number_portable_region,omitempty"`
}

// Default values for PhoneMetadata fields.
const (
	Default_PhoneMetadata_SameMobileAndFixedLinePattern = bool(false)
	Default_PhoneMetadata_MainCountryForCode            = bool(false)
	Default_PhoneMetadata_LeadingZeroPossible           = bool(false)
	Default_PhoneMetadata_MobileNumberPortableRegion    = bool(false)
)

func (x *PhoneMetadata) Reset() {
	*x = PhoneMetadata{}
}

func (x *PhoneMetadata) String() string {
	return proto.Format(x)
}

func (*PhoneMetadata) ProtoMessage() {}

func (x *PhoneMetadata) GetGeneralDesc() *PhoneNumberDesc {
	if x != nil {
		return x.GeneralDesc
	}
	return nil
}

func (x *PhoneMetadata) GetFixedLine() *PhoneNumberDesc {
	if x != nil {
		return x.FixedLine
	}
	return nil
}

func (x *PhoneMetadata) GetMobile() *PhoneNumberDesc {
	if x != nil {
		return x.Mobile
	}
	return nil
}

func (x *PhoneMetadata) GetTollFree() *PhoneNumberDesc {
	if x != nil {
		return x.TollFree
	}
	return nil
}

func (x *PhoneMetadata) GetPremiumRate() *PhoneNumberDesc {
	if x != nil {
		return x.PremiumRate
	}
	return nil
}

func (x *PhoneMetadata) GetSharedCost() *PhoneNumberDesc {
	if x != nil {
		return x.SharedCost
	}
	return nil
}

func (x *PhoneMetadata) GetPersonalNumber() *PhoneNumberDesc {
	if x != nil {
		return x.PersonalNumber
	}
	return nil
}

func (x *PhoneMetadata) GetVoip() *PhoneNumberDesc {
	if x != nil {
		return x.Voip
	}
	return nil
}

func (x *PhoneMetadata) GetPager() *PhoneNumberDesc {
	if x != nil {
		return x.Pager
	}
	return nil
}

func (x *PhoneMetadata) GetUan() *PhoneNumberDesc {
	if x != nil {
		return x.Uan
	}
	return nil
}

func (x *PhoneMetadata) GetEmergency() *PhoneNumberDesc {
	if x != nil {
		return x.Emergency
	}
	return nil
}

func (x *PhoneMetadata) GetVoicemail() *PhoneNumberDesc {
	if x != nil {
		return x.Voicemail
	}
	return nil
}

func (x *PhoneMetadata) GetShortCode() *PhoneNumberDesc {
	if x != nil {
		return x.ShortCode
	}
	return nil
}

func (x *PhoneMetadata) GetStandardRate() *PhoneNumberDesc {
	if x != nil {
		return x.StandardRate
	}
	return nil
}

func (x *PhoneMetadata) GetCarrierSpecific() *PhoneNumberDesc {
	if x != nil {
		return x.CarrierSpecific
	}
	return nil
}

func (x *PhoneMetadata) GetSmsServices() *PhoneNumberDesc {
	if x != nil {
		return x.SmsServices
	}
	return nil
}

func (x *PhoneMetadata) GetNoInternationalDialling() *PhoneNumberDesc {
	if x != nil {
		return x.NoInternationalDialling
	}
	return nil
}

func (x *PhoneMetadata) GetId() string {
	if x != nil && x.Id != nil {
		return *x.Id
	}
	return ""
}

func (x *PhoneMetadata) GetCountryCode() int32 {
	if x != nil && x.CountryCode != nil {
		return *x.CountryCode
	}
	return 0
}

func (x *PhoneMetadata) GetInternationalPrefix() string {
	if x != nil && x.InternationalPrefix != nil {
		return *x.InternationalPrefix
	}
	return ""
}

func (x *PhoneMetadata) GetPreferredInternationalPrefix() string {
	if x != nil && x.PreferredInternationalPrefix != nil {
		return *x.PreferredInternationalPrefix
	}
	return ""
}

func (x *PhoneMetadata) GetNationalPrefix() string {
	if x != nil && x.NationalPrefix != nil {
		return *x.NationalPrefix
	}
	return ""
}

func (x *PhoneMetadata) GetPreferredExtnPrefix() string {
	if x != nil && x.PreferredExtnPrefix != nil {
		return *x.PreferredExtnPrefix
	}
	return ""
}

func (x *PhoneMetadata) GetNationalPrefixForParsing() string {
	if x != nil && x.NationalPrefixForParsing != nil {
		return *x.NationalPrefixForParsing
	}
	return ""
}

func (x *PhoneMetadata) GetNationalPrefixTransformRule() string {
	if x != nil && x.NationalPrefixTransformRule != nil {
		return *x.NationalPrefixTransformRule
	}
	return ""
}

func (x *PhoneMetadata) GetSameMobileAndFixedLinePattern() bool {
	if x != nil && x.SameMobileAndFixedLinePattern != nil {
		return *x.SameMobileAndFixedLinePattern
	}
	return Default_PhoneMetadata_SameMobileAndFixedLinePattern
}

func (x *PhoneMetadata) GetNumberFormat() []*NumberFormat {
	if x != nil {
		return x.NumberFormat
	}
	return nil
}

func (x *PhoneMetadata) GetIntlNumberFormat() []*NumberFormat {
	if x != nil {
		return x.IntlNumberFormat
	}
	return nil
}

func (x *PhoneMetadata) GetMainCountryForCode() bool {
	if x != nil && x.MainCountryForCode != nil {
		return *x.MainCountryForCode
	}
	return Default_PhoneMetadata_MainCountryForCode
}

func (x *PhoneMetadata) GetLeadingDigits() string {
	if x != nil && x.LeadingDigits != nil {
		return *x.LeadingDigits
	}
	return ""
}

func (x *PhoneMetadata) GetLeadingZeroPossible() bool {
	if x != nil && x.LeadingZeroPossible != nil {
		return *x.LeadingZeroPossible
	}
	return Default_PhoneMetadata_LeadingZeroPossible
}

func (x *PhoneMetadata) GetMobileNumberPortableRegion() bool {
	if x != nil && x.MobileNumberPortableRegion != nil {
		return *x.MobileNumberPortableRegion
	}
	return Default_PhoneMetadata_MobileNumberPortableRegion
}

type PhoneMetadataCollection struct {
	Metadata []*PhoneMetadata `protobuf:"bytes,1,rep,name=metadata" json:"metadata,omitempty"`
}

func (x *PhoneMetadataCollection) Reset() {
	*x = PhoneMetadataCollection{}
}

func (x *PhoneMetadataCollection) String() string {
	return proto.Format(x)
}

func (*PhoneMetadataCollection) ProtoMessage() {}

func (x *PhoneMetadataCollection) GetMetadata() []*PhoneMetadata {
	if x != nil {
		return x.Metadata
	}
	return nil
}

// Wire-format decoding, merging and comparison, as google.golang.org/protobuf
// does them for these proto2 messages (see internal/proto). The field numbers
// are those of phonemetadata.proto (and of the struct tags above). Unknown
// fields, and known ones with an unexpected wire type, are skipped.

// XXX_Unmarshal resets x and decodes the wire-format message b into it, as
// proto.Unmarshal does. It is exported only for the library's internal use;
// do not call it.
func (x *PhoneMetadataCollection) XXX_Unmarshal(b []byte) error {
	*x = PhoneMetadataCollection{}
	if err := x.unmarshal(b); err != nil {
		return err
	}
	for _, m := range x.Metadata {
		if err := m.checkRequired(); err != nil {
			return err
		}
	}
	return nil
}

// XXX_Unmarshal resets x and decodes the wire-format message b into it, as
// proto.Unmarshal does. It is exported only for the library's internal use;
// do not call it.
func (x *PhoneMetadata) XXX_Unmarshal(b []byte) error {
	*x = PhoneMetadata{}
	if err := x.unmarshal(b); err != nil {
		return err
	}
	return x.checkRequired()
}

// XXX_Unmarshal resets x and decodes the wire-format message b into it, as
// proto.Unmarshal does. It is exported only for the library's internal use;
// do not call it.
func (x *PhoneNumberDesc) XXX_Unmarshal(b []byte) error {
	*x = PhoneNumberDesc{}
	return x.unmarshal(b)
}

// XXX_Unmarshal resets x and decodes the wire-format message b into it, as
// proto.Unmarshal does. It is exported only for the library's internal use;
// do not call it.
func (x *NumberFormat) XXX_Unmarshal(b []byte) error {
	*x = NumberFormat{}
	if err := x.unmarshal(b); err != nil {
		return err
	}
	return x.checkRequired()
}

// checkRequired reports the first required field that is not set, in the
// order proto.Unmarshal checks them.
func (x *PhoneMetadata) checkRequired() error {
	if x.Id == nil {
		return proto.RequiredNotSet("phonenumbers.PhoneMetadata.id")
	}
	for _, f := range x.NumberFormat {
		if err := f.checkRequired(); err != nil {
			return err
		}
	}
	for _, f := range x.IntlNumberFormat {
		if err := f.checkRequired(); err != nil {
			return err
		}
	}
	return nil
}

func (x *NumberFormat) checkRequired() error {
	if x.Pattern == nil {
		return proto.RequiredNotSet("phonenumbers.NumberFormat.pattern")
	}
	if x.Format == nil {
		return proto.RequiredNotSet("phonenumbers.NumberFormat.format")
	}
	return nil
}

// unmarshal decodes b into x, merging with what x holds already (a message
// field that occurs more than once is merged, as in protobuf).
func (x *PhoneMetadataCollection) unmarshal(b []byte) error {
	d := proto.NewDecoder(b)
	for d.Next() {
		switch d.Tag() {
		case 1<<3 | proto.BytesType:
			m := new(PhoneMetadata)
			d.Fail(m.unmarshal(d.Bytes()))
			x.Metadata = append(x.Metadata, m)
		default:
			d.Skip()
		}
	}
	return d.Err()
}

func (x *PhoneMetadata) unmarshal(b []byte) error {
	d := proto.NewDecoder(b)
	for d.Next() {
		switch d.Tag() {
		case 1<<3 | proto.BytesType:
			x.GeneralDesc = unmarshalDesc(&d, x.GeneralDesc)
		case 2<<3 | proto.BytesType:
			x.FixedLine = unmarshalDesc(&d, x.FixedLine)
		case 3<<3 | proto.BytesType:
			x.Mobile = unmarshalDesc(&d, x.Mobile)
		case 4<<3 | proto.BytesType:
			x.TollFree = unmarshalDesc(&d, x.TollFree)
		case 5<<3 | proto.BytesType:
			x.PremiumRate = unmarshalDesc(&d, x.PremiumRate)
		case 6<<3 | proto.BytesType:
			x.SharedCost = unmarshalDesc(&d, x.SharedCost)
		case 7<<3 | proto.BytesType:
			x.PersonalNumber = unmarshalDesc(&d, x.PersonalNumber)
		case 8<<3 | proto.BytesType:
			x.Voip = unmarshalDesc(&d, x.Voip)
		case 21<<3 | proto.BytesType:
			x.Pager = unmarshalDesc(&d, x.Pager)
		case 25<<3 | proto.BytesType:
			x.Uan = unmarshalDesc(&d, x.Uan)
		case 27<<3 | proto.BytesType:
			x.Emergency = unmarshalDesc(&d, x.Emergency)
		case 28<<3 | proto.BytesType:
			x.Voicemail = unmarshalDesc(&d, x.Voicemail)
		case 29<<3 | proto.BytesType:
			x.ShortCode = unmarshalDesc(&d, x.ShortCode)
		case 30<<3 | proto.BytesType:
			x.StandardRate = unmarshalDesc(&d, x.StandardRate)
		case 31<<3 | proto.BytesType:
			x.CarrierSpecific = unmarshalDesc(&d, x.CarrierSpecific)
		case 33<<3 | proto.BytesType:
			x.SmsServices = unmarshalDesc(&d, x.SmsServices)
		case 24<<3 | proto.BytesType:
			x.NoInternationalDialling = unmarshalDesc(&d, x.NoInternationalDialling)
		case 9<<3 | proto.BytesType:
			x.Id = proto.String(string(d.Bytes()))
		case 10<<3 | proto.VarintType:
			x.CountryCode = proto.Int32(int32(d.Varint()))
		case 11<<3 | proto.BytesType:
			x.InternationalPrefix = proto.String(string(d.Bytes()))
		case 17<<3 | proto.BytesType:
			x.PreferredInternationalPrefix = proto.String(string(d.Bytes()))
		case 12<<3 | proto.BytesType:
			x.NationalPrefix = proto.String(string(d.Bytes()))
		case 13<<3 | proto.BytesType:
			x.PreferredExtnPrefix = proto.String(string(d.Bytes()))
		case 15<<3 | proto.BytesType:
			x.NationalPrefixForParsing = proto.String(string(d.Bytes()))
		case 16<<3 | proto.BytesType:
			x.NationalPrefixTransformRule = proto.String(string(d.Bytes()))
		case 18<<3 | proto.VarintType:
			x.SameMobileAndFixedLinePattern = proto.Bool(d.Varint() != 0)
		case 19<<3 | proto.BytesType:
			f := new(NumberFormat)
			d.Fail(f.unmarshal(d.Bytes()))
			x.NumberFormat = append(x.NumberFormat, f)
		case 20<<3 | proto.BytesType:
			f := new(NumberFormat)
			d.Fail(f.unmarshal(d.Bytes()))
			x.IntlNumberFormat = append(x.IntlNumberFormat, f)
		case 22<<3 | proto.VarintType:
			x.MainCountryForCode = proto.Bool(d.Varint() != 0)
		case 23<<3 | proto.BytesType:
			x.LeadingDigits = proto.String(string(d.Bytes()))
		case 26<<3 | proto.VarintType:
			x.LeadingZeroPossible = proto.Bool(d.Varint() != 0)
		case 32<<3 | proto.VarintType:
			x.MobileNumberPortableRegion = proto.Bool(d.Varint() != 0)
		default:
			d.Skip()
		}
	}
	return d.Err()
}

// unmarshalDesc decodes the PhoneNumberDesc value of the current field of d
// into m (allocated if nil) and returns m.
func unmarshalDesc(d *proto.Decoder, m *PhoneNumberDesc) *PhoneNumberDesc {
	b := d.Bytes()
	if m == nil {
		m = new(PhoneNumberDesc)
	}
	d.Fail(m.unmarshal(b))
	return m
}

func (x *PhoneNumberDesc) unmarshal(b []byte) error {
	d := proto.NewDecoder(b)
	for d.Next() {
		switch d.Tag() {
		case 2<<3 | proto.BytesType:
			x.NationalNumberPattern = proto.String(string(d.Bytes()))
		case 9<<3 | proto.VarintType, 9<<3 | proto.BytesType:
			x.PossibleLength = d.Int32s(x.PossibleLength)
		case 10<<3 | proto.VarintType, 10<<3 | proto.BytesType:
			x.PossibleLengthLocalOnly = d.Int32s(x.PossibleLengthLocalOnly)
		case 6<<3 | proto.BytesType:
			x.ExampleNumber = proto.String(string(d.Bytes()))
		default:
			d.Skip()
		}
	}
	return d.Err()
}

func (x *NumberFormat) unmarshal(b []byte) error {
	d := proto.NewDecoder(b)
	for d.Next() {
		switch d.Tag() {
		case 1<<3 | proto.BytesType:
			x.Pattern = proto.String(string(d.Bytes()))
		case 2<<3 | proto.BytesType:
			x.Format = proto.String(string(d.Bytes()))
		case 3<<3 | proto.BytesType:
			x.LeadingDigitsPattern = append(x.LeadingDigitsPattern, string(d.Bytes()))
		case 4<<3 | proto.BytesType:
			x.NationalPrefixFormattingRule = proto.String(string(d.Bytes()))
		case 6<<3 | proto.VarintType:
			x.NationalPrefixOptionalWhenFormatting = proto.Bool(d.Varint() != 0)
		case 5<<3 | proto.BytesType:
			x.DomesticCarrierCodeFormattingRule = proto.String(string(d.Bytes()))
		default:
			d.Skip()
		}
	}
	return d.Err()
}

// XXX_Merge merges src into x as proto.Merge does (see internal/proto).
// It is exported only for the library's internal use; do not call it.
func (x *NumberFormat) XXX_Merge(src *NumberFormat) {
	if src == nil {
		return
	}
	if x == nil {
		panic("invalid value: merging into nil message")
	}
	proto.MergeOptional(&x.Pattern, src.Pattern)
	proto.MergeOptional(&x.Format, src.Format)
	x.LeadingDigitsPattern = append(x.LeadingDigitsPattern, src.LeadingDigitsPattern...)
	proto.MergeOptional(&x.NationalPrefixFormattingRule, src.NationalPrefixFormattingRule)
	proto.MergeOptional(&x.NationalPrefixOptionalWhenFormatting, src.NationalPrefixOptionalWhenFormatting)
	proto.MergeOptional(&x.DomesticCarrierCodeFormattingRule, src.DomesticCarrierCodeFormattingRule)
}

// XXX_Equal reports whether x and y are equal as proto.Equal does (see
// internal/proto). It is exported only for the library's internal use; do
// not call it.
func (x *NumberFormat) XXX_Equal(y *NumberFormat) bool {
	if x == nil || y == nil {
		return x == nil && y == nil
	}
	return proto.EqualOptional(x.Pattern, y.Pattern) &&
		proto.EqualOptional(x.Format, y.Format) &&
		slices.Equal(x.LeadingDigitsPattern, y.LeadingDigitsPattern) &&
		proto.EqualOptional(x.NationalPrefixFormattingRule, y.NationalPrefixFormattingRule) &&
		proto.EqualOptional(x.NationalPrefixOptionalWhenFormatting, y.NationalPrefixOptionalWhenFormatting) &&
		proto.EqualOptional(x.DomesticCarrierCodeFormattingRule, y.DomesticCarrierCodeFormattingRule)
}
