package main

import (
	"image"

	"github.com/photodesk/photodesk/internal/fixture"
)

// The sample gallery: a fictional exhibition story, written for this project.
// The pictures are fixture.Scene landscapes (seed modulo 4 is the light:
// 0 midday, 1 golden, 2 dusk, 3 night, chosen to suit the time of day); they
// do not show what the captions describe.

const (
	headline = "高清大图|巧手逐梦 创新有我——2026首都职工技能创新成果展掠影"
	source   = "工人日报"
	language = "zh-CN"
	dateline = "北京"

	photographerZhang = "张晓明"
	photographerLi    = "李文涛"
	copyright         = "工人日报"
)

var byline = []string{photographerZhang, photographerLi}

// photo is one sample: what to draw, the EXIF to write, and what the
// pipeline should make of that EXIF (for the README table).
type photo struct {
	file    string
	caption string
	seed    int64
	// portrait: shown upright as 1067x1600 (stored so, or stored 1600x1067
	// with Orientation 6); otherwise 1600x1067.
	portrait bool
	exif     fixture.EXIF

	// What the pipeline should report.
	taken      string // RFC 3339 instant
	dateSource string // EXIF tag the date comes from
	zone       string // where the offset comes from
	note       string
}

// shown is the upright size a viewer displays.
func (p photo) shown() image.Point {
	if p.portrait {
		return image.Pt(shortSide, longSide)
	}
	return image.Pt(longSide, shortSide)
}

// stored is the pixel size in the file: turned by a quarter for
// Orientation 6 or 8.
func (p photo) stored() image.Point {
	s := p.shown()
	if o := p.exif.Orientation; o >= 5 && o <= 8 {
		return image.Pt(s.Y, s.X)
	}
	return s
}

// Cameras: Zhang shoots a Canon (Intel byte order), Li a Nikon (Motorola).
func canon(e fixture.EXIF) fixture.EXIF {
	e.Make, e.Model, e.Artist, e.Copyright = "Canon", "Canon EOS R6", photographerZhang, copyright
	if e.Orientation == 0 {
		e.Orientation = 1
	}
	return e
}

func nikon(e fixture.EXIF) fixture.EXIF {
	e.Make, e.Model, e.Artist, e.Copyright = "NIKON CORPORATION", "NIKON Z 6_2", photographerLi, copyright
	e.BigEndian = true
	if e.Orientation == 0 {
		e.Orientation = 1
	}
	return e
}

// at is what a camera writes for a shot at local time t ("2006:01:02 15:04:05"):
// the same time as DateTimeOriginal, DateTimeDigitized and DateTime.
func at(t string) fixture.EXIF {
	return fixture.EXIF{DateTimeOriginal: t, DateTimeDigitized: t, DateTime: t}
}

const newsroomZone = "Asia/Shanghai (newsroom)"

var beijingAlt = 44.0

var photos = []photo{
	{
		file:    "01-opening.jpg",
		caption: "为期三天的2026首都职工技能创新成果展在北京开幕，来自建筑、制造、交通等行业的300余项职工创新成果集中亮相。",
		seed:    121,
		exif:    canon(at("2026:07:28 09:02:15")),
		taken:   "2026-07-28T09:02:15+08:00", dateSource: "DateTimeOriginal", zone: newsroomZone,
	},
	{
		file:    "02-welding.jpg",
		caption: "焊接技能展区，一名来自建筑企业的焊工现场演示高空仰焊工艺，焊缝均匀平整，引来观众驻足观看。",
		seed:    104,
		exif: canon(func() fixture.EXIF {
			e := at("2026:07:28 10:41:30")
			e.OffsetTimeOriginal, e.OffsetTime, e.SubSecTimeOriginal = "+08:00", "+08:00", "37"
			return e
		}()),
		taken: "2026-07-28T10:41:30.37+08:00", dateSource: "DateTimeOriginal", zone: "+08:00 (OffsetTimeOriginal)",
		note: "SubSecTimeOriginal 37",
	},
	{
		file:     "03-lathe.jpg",
		caption:  "数控车床前，一名青年技工正在加工精密零件，尺寸误差控制在0.01毫米以内。",
		seed:     124,
		portrait: true,
		exif:     canon(at("2026:07:28 14:18:05")),
		taken:    "2026-07-28T14:18:05+08:00", dateSource: "DateTimeOriginal", zone: newsroomZone,
		note: "portrait",
	},
	{
		file:    "04-masonry.jpg",
		caption: "砌筑技艺展台前，老师傅手把手向青年学徒传授砌砖要领。",
		seed:    105,
		exif:    canon(at("2026:07:28 17:55:40")),
		taken:   "2026-07-28T17:55:40+08:00", dateSource: "DateTimeOriginal", zone: newsroomZone,
	},
	{
		file:    "05-robotics.jpg",
		caption: "工业机器人展区，工程师调试一台由职工团队自主研发的焊接机器人，吸引不少中小学生围观。",
		seed:    113,
		exif: canon(func() fixture.EXIF {
			e := at("2026:07:29 08:47:12")
			e.GPS = &fixture.GPS{
				Lat: 39.9042, Lon: 116.4074, Alt: &beijingAlt,
				DateStamp: "2026:07:29", Time: [3]float64{0, 47, 12}, // UTC
			}
			return e
		}()),
		taken: "2026-07-29T08:47:12+08:00", dateSource: "DateTimeOriginal", zone: newsroomZone,
		note: "GPS 39.9042 N, 116.4074 E, 44 m; GPS time 2026-07-29 00:47:12 UTC",
	},
	{
		file:     "06-electrician.jpg",
		caption:  "电工技能比武现场，参赛选手在规定时间内完成配电柜接线作业。",
		seed:     132,
		portrait: true,
		exif:     canon(fixture.EXIF{DateTimeOriginal: "2026:07:29 11:20:33", DateTimeDigitized: "2026:07:29 11:20:33", DateTime: "2026:07:29 11:20:33", Orientation: 6}),
		taken:    "2026-07-29T11:20:33+08:00", dateSource: "DateTimeOriginal", zone: newsroomZone,
		note: "stored 1600x1067 with Orientation 6: shown as 1067x1600 portrait",
	},
	{
		file:    "07-carpentry.jpg",
		caption: "木工展区陈列的榫卯结构模型，全部由职工利用业余时间手工制作完成。",
		seed:    120,
		exif:    canon(fixture.EXIF{DateTime: "2026:07:29 15:36:48"}),
		taken:   "2026-07-29T15:36:48+08:00", dateSource: "DateTime", zone: newsroomZone,
		note: "no DateTimeOriginal or DateTimeDigitized",
	},
	{
		file:    "08-night-shift.jpg",
		caption: "夜幕降临，布展团队仍在检修展台灯光设备，为次日展出做好准备。",
		seed:    127,
		exif:    canon(at("2026:07:29 21:05:09")),
		taken:   "2026-07-29T21:05:09+08:00", dateSource: "DateTimeOriginal", zone: newsroomZone,
	},
	{
		file:    "09-visitors.jpg",
		caption: "市民在展馆内参观职工创新成果，不少家长带着孩子前来感受工匠精神。",
		seed:    137,
		exif:    nikon(at("2026:07:30 09:12:44")),
		taken:   "2026-07-30T09:12:44+08:00", dateSource: "DateTimeOriginal", zone: newsroomZone,
		note: "big-endian (MM) EXIF",
	},
	{
		file:    "10-apprentices.jpg",
		caption: "“名师带高徒”交流区，全国技术能手为青年职工解答生产一线遇到的技术难题。",
		seed:    108,
		exif: canon(func() fixture.EXIF {
			e := at("2026:07:30 11:48:20")
			e.DateTime = "2026:07:31 09:20:05" // edited the next morning
			return e
		}()),
		taken: "2026-07-30T11:48:20+08:00", dateSource: "DateTimeOriginal", zone: newsroomZone,
		note: "DateTime is a later edit (2026:07:31 09:20:05): not the capture date",
	},
	{
		file:    "11-abroad.jpg",
		caption: "在德国杜塞尔多夫同期举行的国际职业技能交流活动上，中国参展职工与外国同行切磋技艺。",
		seed:    128,
		exif: nikon(func() fixture.EXIF {
			e := at("2026:07:30 10:30:00")
			e.OffsetTimeOriginal, e.OffsetTime = "+02:00", "+02:00"
			return e
		}()),
		taken: "2026-07-30T10:30:00+02:00", dateSource: "DateTimeOriginal", zone: "+02:00 (OffsetTimeOriginal)",
		note: "shot abroad; 16:30 in Beijing, same day; big-endian (MM) EXIF",
	},
	{
		file:    "12-closing.jpg",
		caption: "成果展落下帷幕，主办方为20名优秀技能人才颁发荣誉证书，展会累计接待观众逾5万人次。",
		seed:    134,
		exif:    canon(at("2026:07:30 19:40:26")),
		taken:   "2026-07-30T19:40:26+08:00", dateSource: "DateTimeOriginal", zone: newsroomZone,
	},
}
