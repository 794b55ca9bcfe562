package policy

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// t2sPairs maps traditional Chinese characters to simplified ones, two runes
// per entry. It covers the characters of complaint vocabulary (the keyword
// lists and the words around them), not the whole script: the policy file
// lists both forms of each keyword, and this table catches the traditional
// spellings an operator forgot. No key is also a simplified character with a
// meaning of its own (乾, 著, 瞭 are left out), so simplified text is never
// changed by it.
const t2sPairs = "丟丢亂乱來来係系倉仓個个們们偽伪備备傢家傳传傷伤僅仅價价億亿償偿優优兇凶兒儿內内兩两則则劃划動动務务勵励區区協协參参員员問问啟启單单嗎吗嘆叹嘔呕嚴严國国圍围圖图團团執执報报場场塊块塗涂壓压壞坏學学實实審审寫写寬宽寶宝專专對对導导屆届屬属師师帳账幣币幫帮幹干幾几庫库廠厂廣广廳厅張张後后從从復复悶闷惡恶惱恼態态慣惯憤愤應应懲惩戶户揚扬換换損损搶抢擇择擊击擋挡擔担據据擠挤擾扰攤摊攬揽敗败數数斷断於于時时暈晕曆历書书會会東东條条業业構构標标樣样機机檢检檯台櫃柜權权歲岁歷历歸归殘残氣气汙污決决沒没洩泄減减測测準准滅灭滲渗滿满漬渍漲涨瀉泻灣湾為为無无熱热燈灯燒烧營营狀状獎奖獲获現现瑪玛產产異异當当療疗癟瘪癢痒發发盜盗監监確确碼码禮礼稅税積积竊窃節节範范簡简簽签籤签紀纪約约紅红紋纹紙纸級级細细組组絕绝絡络給给統统絲丝綁绑經经綜综綠绿維维網网緊紧線线緣缘練练縣县縮缩總总織织繫系續续罰罚罵骂羅罗習习聞闻聯联聲声聽听肅肃腦脑腫肿腸肠膚肤臉脸臟脏臨临臺台與与舉举萬万葉叶蓋盖蔔卜藍蓝藝艺藥药蘋苹蘿萝處处虛虚號号蝕蚀蟲虫衛卫衝冲裏里補补裝装裡里製制複复褲裤襪袜見见規规視视親亲覺觉觸触訂订計计訊讯託托記记訟讼訪访設设許许訴诉診诊詐诈評评詢询話话該该詳详誇夸認认語语誠诚誤误說说調调談谈諉诿請请論论諮咨謊谎講讲謝谢證证識识譜谱議议護护譽誉讀读變变讓让讚赞豬猪貓猫貝贝財财貨货販贩責责貴贵買买貸贷費费貼贴資资賊贼賓宾賠赔賣卖質质賬账賴赖購购贈赠贏赢贗赝車车輔辅輸输轉转農农這这連连週周運运過过違违遞递適适遲迟選选還还邊边郵邮鄉乡醫医醬酱鈣钙銀银銷销銹锈鋅锌錄录錢钱錯错錶表鍾钟鎮镇鏡镜鏽锈鐘钟鐵铁鑑鉴鑒鉴鑰钥鑽钻長长門门開开間间關关隊队際际隨随險险隱隐隻只雙双雞鸡離离難难電电項项領领頭头頻频題题額额顏颜顧顾風风颱台飛飞飯饭飲饮餅饼餘余館馆馬马駁驳騙骗騷骚驗验髒脏體体髮发鬆松鬥斗鬧闹鬱郁魚鱼鳥鸟鴨鸭鹽盐麥麦麵面麼么麽么黃黄點点黴霉齒齿龍龙"

// Normalizer folds text so that keywords match whatever form the customer
// typed: full-width letters and digits become half-width, Latin letters are
// lower-cased, the many middle dots (·・•‧) become one, zero-width characters
// vanish, runs of white space become one space, and common traditional
// characters become simplified. It is safe for concurrent use.
type Normalizer struct {
	// t2s is indexed by rune - cjkFirst; 0 means no mapping, else the
	// simplified rune - cjkFirst + 1. A dense table over the CJK Unified
	// Ideographs block (42 KB) is several times faster than a map lookup per
	// character, and every mapped character lies in that block.
	t2s []uint16
}

const (
	cjkFirst = 0x4E00
	cjkLast  = 0x9FFF
)

// NewNormalizer builds a Normalizer.
func NewNormalizer() *Normalizer {
	n := &Normalizer{t2s: make([]uint16, cjkLast-cjkFirst+1)}
	rs := []rune(t2sPairs)
	for i := 0; i+1 < len(rs); i += 2 {
		trad, simp := rs[i], rs[i+1]
		if trad >= cjkFirst && trad <= cjkLast && simp >= cjkFirst && simp <= cjkLast {
			n.t2s[trad-cjkFirst] = uint16(simp-cjkFirst) + 1
		}
	}
	return n
}

// Normalize folds s for matching.
func (n *Normalizer) Normalize(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		r = n.fold(r)
		switch {
		case r < 0:
			continue
		case r == ' ':
			if !space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = true
			continue
		}
		space = false
		b.WriteRune(r)
	}
	return strings.TrimSuffix(b.String(), " ")
}

// fold maps one rune; -1 drops it.
func (n *Normalizer) fold(r rune) rune {
	switch {
	case r < utf8.RuneSelf:
		if 'A' <= r && r <= 'Z' {
			return r + ('a' - 'A')
		}
		if r == '\t' || r == '\n' || r == '\r' || r == '\v' || r == '\f' {
			return ' '
		}
		return r
	case r >= cjkFirst && r <= cjkLast:
		if s := n.t2s[r-cjkFirst]; s != 0 {
			return rune(s-1) + cjkFirst
		}
		return r
	case r >= 0xFF01 && r <= 0xFF5E: // full-width ASCII
		return n.fold(r - 0xFEE0)
	}
	switch r {
	case 0x3000:
		return ' '
	case 0x00B7, 0x30FB, 0x2022, 0x2027, 0xFF65, 0x2219, 0x22C5:
		return '·'
	case 0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF:
		return -1
	}
	if unicode.IsSpace(r) {
		return ' '
	}
	return unicode.ToLower(r)
}
