// Package holidays bundles the official public-holiday schedules that are
// maintained as data rather than code: one JSON file per year and
// jurisdiction, compiled into every binary that imports it.
//
// cn/<year>.json is the State Council's yearly notice on mainland China's
// public holidays (国务院办公厅关于<year>年部分节假日安排的通知):
//
//	{"year": 2028, "holidays": ["2028-01-01", ...], "workdays": ["2028-01-29", ...]}
//
// The rules each file must follow are in cn/README.md; internal/workday
// reads and checks the files, before github.com/6tail/lunar-go's own table.
package holidays

import (
	"embed"
	"io/fs"
)

//go:embed cn
var bundled embed.FS

// CN is the bundled mainland China schedules: <year>.json files (and
// README.md) at the root of the returned file system.
func CN() (fs.FS, error) {
	return fs.Sub(bundled, "cn")
}
