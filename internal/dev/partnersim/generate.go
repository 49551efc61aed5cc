package partnersim

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"time"

	"dsrflow/internal/dsr"
	"dsrflow/internal/partner"
)

// The generated data: plausible, synthetic and deterministic (the same
// person and partner give the same data, on every machine and Go version),
// chosen by partner ID for the partners of config/partners.example.json:
//
//	music-account      profile, registered_at, playlists, listening_history,
//	                   orders (adults; paid), guardian (minors)
//	voice-model-store  profile, voice_samples, voice_models
//	analytics          usage_events
//	sms-provider       sms_log (templates and delivery status, never text)
//	cloud-storage      files
//	any other ID       events
//
// A person's Data for a partner is laid over it key by key.

// genBase is the date generated histories end at: fixed, so that seeding
// does not depend on the clock.
var genBase = time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)

// draws is a deterministic stream of numbers (splitmix64 over an FNV-1a
// seed): math/rand's methods may change between Go releases, this may not.
type draws struct{ state uint64 }

func newDraws(parts ...string) *draws {
	h := fnv.New64a()
	for _, s := range parts {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return &draws{state: h.Sum64()}
}

func (d *draws) next() uint64 {
	d.state += 0x9e3779b97f4a7c15
	z := d.state
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// intn is in [0, n).
func (d *draws) intn(n int) int { return int(d.next() % uint64(n)) }

// between is in [lo, hi].
func (d *draws) between(lo, hi int) int { return lo + d.intn(hi-lo+1) }

func pick[T any](d *draws, xs []T) T { return xs[d.intn(len(xs))] }

// pickDistinct picks n different elements of xs (n <= len(xs)).
func pickDistinct[T any](d *draws, xs []T, n int) []T {
	xs = slices.Clone(xs)
	for i := range n {
		j := i + d.intn(len(xs)-i)
		xs[i], xs[j] = xs[j], xs[i]
	}
	return xs[:n]
}

// id is prefix-<8 hex digits>.
func (d *draws) id(prefix string) string { return fmt.Sprintf("%s-%08x", prefix, uint32(d.next())) }

// ago is a time up to maxDays days before genBase, to the minute.
func (d *draws) ago(maxDays int) string {
	return genBase.Add(-time.Duration(d.intn(maxDays*24*60)) * time.Minute).Format(time.RFC3339)
}

// sortedTimes returns n times before genBase, oldest first.
func (d *draws) sortedTimes(n, maxDays int) []string {
	ts := make([]string, n)
	for i := range ts {
		ts[i] = d.ago(maxDays)
	}
	slices.Sort(ts)
	return ts
}

var (
	nicknames = []string{"晚风听歌人", "夜航星", "海边的猫", "Lofi少年", "Midnight Echo", "清晨咖啡", "山间小溪", "Blue Hour", "追光的人", "Paper Boat"}
	cities    = []string{"北京", "上海", "杭州", "广州", "成都", "深圳", "武汉", "南京"}
	mottos    = []string{"音乐是生活的解药", "今天也要好好听歌", "Music is my second language", "喜欢民谣和电子", "正在学写歌"}
	tracks    = []struct{ title, artist string }{
		{"夏夜的风", "AI 歌手·星瑶"}, {"Neon Rain", "AI Singer Nova"}, {"山海之间", "AI 歌手·青川"},
		{"Paper Boats", "AI Singer Nova"}, {"星河旅人", "AI 歌手·星瑶"}, {"Quiet Harbor", "The Tidelines"},
		{"雨后的城市", "林间乐队"}, {"Blue Hour Drive", "The Tidelines"}, {"晚安小城", "AI 歌手·青川"}, {"灯火", "林间乐队"},
	}
	playlistNames = []string{"通勤路上", "深夜电台", "跑步歌单", "我喜欢的音乐", "Study Lofi", "周末咖啡馆", "AI 新歌尝鲜"}
	products      = []struct{ item, amount string }{
		{"黑胶VIP 月卡", "15.00"}, {"黑胶VIP 年卡", "158.00"}, {"AI 歌手声音定制包", "68.00"}, {"数字专辑《山海之间》", "20.00"},
	}
	devices      = []string{"iPhone 15", "HUAWEI Mate 60", "Xiaomi 14", "OPPO Find X7", "vivo X100", "iPad Air", "Windows PC"}
	usageEvents  = []string{"play", "play", "play", "search", "like", "share", "create_song", "download"}
	smsTemplates = []string{"verification_code", "verification_code", "login_alert", "order_notice", "vip_expiry_reminder"}
	fileKinds    = []struct{ name, contentType string }{
		{"cover.jpg", "image/jpeg"}, {"demo-vocal.wav", "audio/wav"}, {"lyrics.txt", "text/plain"}, {"mixdown.mp3", "audio/mpeg"}, {"avatar.png", "image/png"},
	}
)

// nickname is the person's nickname, the same at every partner that shows
// one.
func nickname(per Person) string { return pick(newDraws("nickname", per.key()), nicknames) }

// generate is the data partner p holds about per before per.Data is laid
// over it.
func generate(p partner.Partner, per Person) map[string]any {
	d := newDraws(p.ID, per.key())
	minor := per.Guardian != nil
	switch p.ID {
	case "music-account":
		data := map[string]any{
			"profile": map[string]any{
				"nickname":  nickname(per),
				"real_name": per.Name,
				"city":      cityOf(per, d),
				"signature": pick(d, mottos),
			},
			"registered_at": d.ago(4 * 365),
		}
		var playlists []map[string]any
		for range d.between(1, 3) {
			var ts []string
			for _, t := range pickDistinct(d, tracks, d.between(2, 4)) {
				ts = append(ts, t.title+" - "+t.artist)
			}
			playlists = append(playlists, map[string]any{"id": d.id("pl"), "name": pick(d, playlistNames), "tracks": ts})
		}
		data["playlists"] = playlists
		var history []map[string]any
		for _, at := range d.sortedTimes(d.between(3, 5), 30) {
			t := pick(d, tracks)
			history = append(history, map[string]any{"at": at, "track": t.title, "artist": t.artist, "seconds": d.between(30, 280)})
		}
		data["listening_history"] = history
		orders := []map[string]any{}
		if !minor {
			for _, at := range d.sortedTimes(d.between(0, 2), 2*365) {
				pr := pick(d, products)
				orders = append(orders, map[string]any{"id": d.id("ord"), "at": at, "item": pr.item, "amount_cny": pr.amount, "status": "paid"})
			}
		}
		data["orders"] = orders
		if minor {
			data["guardian"] = map[string]any{"name": per.Guardian.Name, "email": per.Guardian.Email}
		}
		return data
	case "voice-model-store":
		var samples []map[string]any
		for _, at := range d.sortedTimes(d.between(1, 3), 180) {
			id := d.id("vs")
			samples = append(samples, map[string]any{"id": id, "recorded_at": at, "seconds": d.between(8, 60), "file": "samples/" + id + ".wav"})
		}
		last := samples[len(samples)-1]["recorded_at"].(string)
		return map[string]any{
			"profile":       map[string]any{"nickname": nickname(per)},
			"voice_samples": samples,
			"voice_models":  []map[string]any{{"id": d.id("vm"), "base": pick(d, []string{"singer-v2", "singer-v3"}), "trained_from": len(samples), "trained_at": last, "status": "ready"}},
		}
	case "analytics":
		var events []map[string]any
		device := pick(d, devices)
		for _, at := range d.sortedTimes(d.between(3, 6), 30) {
			events = append(events, map[string]any{"at": at, "event": pick(d, usageEvents), "device": device, "app_version": fmt.Sprintf("9.%d.%d", d.between(0, 2), d.between(0, 9))})
		}
		return map[string]any{"usage_events": events}
	case "sms-provider":
		templates := smsTemplates
		if per.Account == "" {
			// Without an account: the sign-up codes of a sign-up never finished.
			templates = []string{"verification_code"}
		}
		var log []map[string]any
		for _, at := range d.sortedTimes(d.between(2, 4), 150) {
			status := "delivered"
			if d.intn(10) == 0 {
				status = "failed"
			}
			log = append(log, map[string]any{"id": d.id("sms"), "at": at, "template": pick(d, templates), "status": status})
		}
		return map[string]any{"sms_log": log}
	case "cloud-storage":
		var files []map[string]any
		for _, at := range d.sortedTimes(d.between(1, 3), 365) {
			k := pick(d, fileKinds)
			files = append(files, map[string]any{"key": "u/" + per.Account + "/" + d.id("f") + "/" + k.name, "content_type": k.contentType, "bytes": d.between(2_000, 9_000_000), "uploaded_at": at})
		}
		return map[string]any{"files": files}
	}
	return map[string]any{"events": []map[string]any{{"at": d.ago(30), "event": "sample"}}}
}

func cityOf(per Person, d *draws) string {
	if strings.HasPrefix(per.Phone, "+852") {
		return "香港"
	}
	return pick(d, cities)
}

// holdsPerson reports whether partner p holds records about per: the
// person's Partners list, if any, names p; and p keys by one of the
// person's identifiers, where a partner that keys by account (a part of
// the app) holds only people with an account.
func holdsPerson(p partner.Partner, per Person) bool {
	if len(per.Partners) > 0 && !slices.Contains(per.Partners, p.ID) {
		return false
	}
	if p.Holds(dsr.IdentifierAccount) {
		return per.Account != ""
	}
	return p.Holds(dsr.IdentifierEmail) && per.Email != "" || p.Holds(dsr.IdentifierPhone) && per.Phone != ""
}

// seedRecord is the record partner p is seeded with for per, and whether p
// holds per at all.
func seedRecord(p partner.Partner, per Person) (Record, bool, error) {
	if !holdsPerson(p, per) {
		return Record{}, false, nil
	}
	rec := Record{Data: map[string]json.RawMessage{}}
	if p.Holds(dsr.IdentifierAccount) {
		rec.Account = per.Account
	}
	if p.Holds(dsr.IdentifierPhone) {
		rec.Phone = per.Phone
	}
	if p.Holds(dsr.IdentifierEmail) {
		rec.Email = per.Email
	}
	for k, v := range generate(p, per) {
		b, err := json.Marshal(v)
		if err != nil {
			return Record{}, false, fmt.Errorf("generate data for partner %s: %w", p.ID, err)
		}
		rec.Data[k] = b
	}
	if raw, ok := per.Data[p.ID]; ok {
		var over map[string]json.RawMessage
		if err := json.Unmarshal(raw, &over); err != nil {
			return Record{}, false, fmt.Errorf("data for partner %s: %w", p.ID, err)
		}
		for k, v := range over {
			rec.Data[k] = compact(v)
		}
	}
	return rec, true, nil
}
