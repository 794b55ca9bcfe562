package domain

import (
	"math"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	"github.com/kesu315/kesu/services/kit/policy"
)

const shippedPolicy = "../../../../deploy/config/kesu.yaml"

// classifyPolicy loads the policy Kesu ships: the table below holds the file
// and the classifier to each other.
func classifyPolicy(t testing.TB) *policy.Policy {
	t.Helper()
	p, err := policy.Load(shippedPolicy)
	if err != nil {
		t.Fatalf("shipped policy: %v", err)
	}
	return p
}

func classifyZone(t testing.TB) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// classifyBattleDay is inside the 2026 battle phase in Shanghai.
func classifyBattleDay(t testing.TB) time.Time {
	return time.Date(2026, 3, 12, 10, 0, 0, 0, classifyZone(t))
}

// The script a case is written in.
const (
	scriptHans  = "hans"  // simplified Chinese
	scriptHant  = "hant"  // traditional Chinese
	scriptMixed = "mixed" // Chinese with English
	scriptEN    = "en"
)

const (
	sevNormal      = complaintv1.Severity_SEVERITY_NORMAL
	sevHigh        = complaintv1.Severity_SEVERITY_HIGH
	sevMajor       = complaintv1.Severity_SEVERITY_MAJOR
	sevCrisis      = complaintv1.Severity_SEVERITY_CRISIS
	typeAggressive = complaintv1.CustomerType_CUSTOMER_TYPE_AGGRESSIVE
	typeHabitual   = complaintv1.CustomerType_CUSTOMER_TYPE_HABITUAL
	typeQuiet      = complaintv1.CustomerType_CUSTOMER_TYPE_QUIET
)

// classifyCase is one real-style complaint and how the shipped policy must
// classify it. Unset inputs default to: shop demo-flagship, filed on a
// battle day, online chat, first contact, no transfers, amounts or flags.
type classifyCase struct {
	name, script, text string
	channel            string // policy channel id
	contacts           int
	transfers          int
	claimed, order     string // yuan
	followers          int64
	complainant        *complaintv1.Complainant

	category  string
	secondary []string // checked when set
	signals   []string // the EXACT set of risk codes (signals and flags)
	severity  complaintv1.Severity
	ctype     complaintv1.CustomerType // the hint, checked when set
}

// classifyCases are modelled on the seed articles and the categories: about
// half simplified, half traditional, a few mixed and English.
func classifyCases() []classifyCase {
	hans, hant, mixed, en := scriptHans, scriptHant, scriptMixed, scriptEN
	return []classifyCase{
		// ---- quality 产品质量
		{
			name: "kettle leaks, polite", script: hans,
			text:     "你好，上周买的电热水壶用了三天就坏了，底座一直漏水，麻烦看看怎么处理，谢谢。",
			category: "quality", severity: sevNormal, ctype: typeQuiet,
		},
		{
			name: "down jacket seams open", script: hant,
			text:     "您好，收到的羽絨服開線了，袖口還有明顯瑕疵，請問可以處理嗎？",
			category: "quality", severity: sevNormal, ctype: typeQuiet,
		},
		{
			name: "fridge not cooling, 12315 threat", script: hans,
			text:     "冰箱买回来就不制冷，维修了两次还是故障，再不解决我就打12315投诉！",
			category: "quality", signals: []string{"threat_12315"}, severity: sevHigh, ctype: typeAggressive,
		},
		{
			name: "washing machine, third contact", script: hant,
			text:     "第三次聯繫了，洗衣機還是漏水，質量太差，到底什麼時候能修好？",
			contacts: 3,
			category: "quality", signals: []string{"repeat_complaint", "repeat_contact"}, severity: sevHigh, ctype: typeHabitual,
		},
		{
			name: "laptop 8999 yuan, scratches and freezes", script: hans,
			text:     "花了8999买的笔记本电脑，屏幕有划痕还经常死机，要求换一台新机。",
			claimed:  "8999",
			category: "quality", signals: []string{"high_amount"}, severity: sevHigh, ctype: typeQuiet,
		},
		{
			name: "TV colour cast on a large order", script: hant,
			text:     "電視機螢幕色差嚴重，開機還黑屏，麻煩安排售後檢測。",
			order:    "3599",
			category: "quality", signals: []string{"high_amount"}, severity: sevHigh,
		},
		{
			name: "polite exchange request", script: hant,
			text:     "您好，收到的杯子有點色差，不影響使用，想問問能否換一個，謝謝。",
			category: "quality", severity: sevNormal, ctype: typeQuiet,
		},
		{
			name: "habitual buyer, broken again", script: hant,
			text:     "又是這家店，每次買都出問題，這次衣服又壞了，我已經投訴過很多次。",
			category: "quality", signals: []string{"repeat_complaint"}, severity: sevNormal, ctype: typeHabitual,
		},
		{
			name: "bought in a Douyin live room is not a threat", script: hans,
			text:     "在抖音直播间买的项链，戴了一周就掉色了。",
			category: "quality", severity: sevNormal,
		},
		{
			name: "English, blender broken", script: en,
			text:     "The blender arrived broken and the motor is faulty. I want a refund.",
			category: "quality", severity: sevNormal,
		},
		// ---- expired_goods 过期/变质
		{
			name: "expired face cream", script: hans,
			text:     "在你们店买的面霜收到就已经过期了，生产日期是2022年的，保质期只有三年，要求退货退款，退款请原路返回。",
			category: "expired_goods", severity: sevNormal,
		},
		{
			name: "expired milk, tenfold claim", script: hant,
			text:     "買的牛奶過期了，喝了以後拉肚子，依照食品安全法我要求退一賠十！",
			category: "expired_goods", signals: []string{"refund_tenfold"}, severity: sevHigh,
		},
		{
			name: "bugs in snacks, regulator", script: hans,
			text:     "零食包装胀袋，打开里面有虫，已经拍照留证，准备向市场监管局举报。",
			category: "expired_goods", signals: []string{"regulator"}, severity: sevHigh, ctype: typeAggressive,
		},
		{
			name: "mouldy mooncakes, 12315 and association", script: hant,
			text:     "月餅發霉長毛了，商家還說是正常現象，我已經投訴到12315，也會去找消協。",
			category: "expired_goods", signals: []string{"threat_12315", "consumer_association"}, severity: sevMajor, ctype: typeAggressive,
		},
		{
			name: "foreign body in cooked food, tenfold", script: hant,
			text:     "外賣買的熟食有異物，吃壞肚子去了醫院，根據食品安全法要求十倍賠償。",
			category: "expired_goods", signals: []string{"refund_tenfold"}, severity: sevHigh,
		},
		{
			name: "spoiled bird's nest, black-diamond member, 12315 and journalist", script: hant,
			text:        "黑鑽會員買到變質的燕窩，已投訴到12315，也聯繫了記者。",
			complainant: &complaintv1.Complainant{Vip: true},
			category:    "expired_goods", signals: []string{"threat_12315", "media_exposure", "vip"}, severity: sevCrisis,
		},
		{
			name: "near-expiry baby formula", script: hans,
			text:     "奶粉是临期的，离保质期只剩一个月，详情页没写，不能接受。",
			category: "expired_goods", severity: sevNormal,
		},
		{
			name: "expired cream, relabelled date", script: hant,
			text:     "面霜收到時已經過期三個月，保質期標籤還被塗改過，太離譜了。",
			category: "expired_goods", severity: sevNormal,
		},
		{
			name: "people's congress deputy, regulator", script: hant,
			text:     "我是人大代表，你們的食品有異物，這個問題我會向市場監管反映。",
			category: "expired_goods", signals: []string{"regulator", "official"}, severity: sevCrisis,
		},
		// ---- price_size_error 价格/尺码错误
		{
			name: "price drop, price protection refused", script: hans,
			text:     "下单后隔天就降价了200，申请价保客服说不符合条件，要求退差价。",
			category: "price_size_error", severity: sevNormal,
		},
		{
			name: "size chart wrong", script: hant,
			text:     "尺碼表寫的是M號，收到的衣服明顯偏小，尺寸不符。",
			category: "price_size_error", severity: sevNormal,
		},
		{
			name: "charged more than the tag, triple claim", script: hans,
			text:     "页面标价199结账却扣了299，多收钱就是欺诈，我要求退一赔三。",
			category: "price_size_error", signals: []string{"refund_triple"}, severity: sevHigh,
		},
		{
			name: "habitual overcharge", script: hant,
			text:     "每次買都多扣款，上次也是這樣，你們的價格錯誤已經不止一次了。",
			category: "price_size_error", severity: sevNormal, ctype: typeHabitual,
		},
		{
			name: "short weight", script: hans,
			text:     "买的5斤装大米称了只有4斤半，缺斤少两。",
			category: "price_size_error", severity: sevNormal,
		},
		{
			name: "price protection after a drop", script: hant,
			text:     "同一件商品昨天買貴了，今天降價100，要求保價。",
			category: "price_size_error", severity: sevNormal,
		},
		// ---- promotion_rules 促销规则
		{
			name: "spend 500 get 50 not applied", script: hans,
			text:     "满500减50的活动，我凑单到520结果没有减，优惠券也没法用。",
			category: "promotion_rules", severity: sevNormal,
		},
		{
			name: "Double 11 presale, gift missing", script: hant,
			text:     "雙11預售付了定金，付尾款時活動價變了，說好的贈品也沒送。",
			category: "promotion_rules", severity: sevNormal,
		},
		{
			name: "cross-store discount, 315 is near", script: hans,
			text:     "说好的跨店满减没生效，客服说是系统问题，315马上就到了，你们看着办。",
			category: "promotion_rules", signals: []string{"threat_315"}, severity: sevMajor, ctype: typeAggressive,
		},
		{
			name: "points voucher cancelled, ultimatum", script: hant,
			text:     "積分兌換的紅包被無故取消，限你們今天之內給個說法，否則我就打12315。",
			category: "promotion_rules", signals: []string{"threat_12315"}, severity: sevHigh, ctype: typeAggressive,
		},
		{
			name: "seed 002 spend 500 get 50 SMS", script: hans,
			text:     "你们是不是在搞活动？收到短信说买够五百元送50元，结账的时候却说没有任何活动。",
			category: "promotion_rules", severity: sevNormal,
		},
		{
			name: "coupon would not apply", script: hant,
			text:     "優惠券領了卻用不了券，說好的滿300減30也沒有扣。",
			category: "promotion_rules", secondary: []string{"quality"}, severity: sevNormal,
		},
		// ---- false_advertising 虚假宣传
		{
			name: "live room said pure wool", script: hans,
			text:     "直播间说是纯羊毛，收到一看成分表是涤纶，这是虚假宣传，货不对板。",
			category: "false_advertising", severity: sevNormal,
		},
		{
			name: "lowest price and healing claims, regulator", script: hant,
			text:     "商品頁寫全網最低價還說有療效，明顯違反廣告法，我會向市場監管部門舉報。",
			category: "false_advertising", signals: []string{"regulator"}, severity: sevHigh, ctype: typeAggressive,
		},
		{
			name: "imported claim, fraud, lawsuit", script: hans,
			text:     "宣传说是进口原装，实际是国产贴牌，与描述不符，属于欺诈，要求退一赔三，不然就起诉。",
			category: "false_advertising", signals: []string{"refund_triple", "lawsuit"}, severity: sevHigh,
		},
		{
			name: "celebrity-style goods are not a celebrity complainant", script: hans,
			text:     "明星同款的网红面膜，主播说能美白祛斑，用了一个月一点效果都没有，夸大宣传。",
			category: "false_advertising", severity: sevNormal,
		},
		{
			name: "association forwards a down content complaint", script: hans,
			text:     "消费者协会转来投诉：羽绒服含绒量虚标，夸大宣传。",
			channel:  "consumer_association",
			category: "false_advertising", signals: []string{"consumer_association"}, severity: sevHigh,
		},
		{
			name: "polyester sold as cotton, triple claim", script: hant,
			text:     "標榜純棉實際是聚酯纖維，貨不對板，這是欺詐，要求退一賠三。",
			category: "false_advertising", signals: []string{"refund_triple"}, severity: sevHigh,
		},
		// ---- counterfeit 假冒伪劣
		{
			name: "sneakers checked at the counter", script: hans,
			text:     "买的运动鞋拿去专柜验货说是假货，防伪码也查不到。",
			category: "counterfeit", severity: sevNormal,
		},
		{
			name: "high copy, triple claim", script: hant,
			text:     "你們賣的是高仿，根本不是正品，店鋪寫著假一賠三，現在必須按承諾賠償。",
			category: "counterfeit", signals: []string{"refund_triple"}, severity: sevHigh, ctype: typeAggressive,
		},
		{
			name: "journalist complainant going public", script: hans,
			text:        "在你们店买的化妆品经鉴定是假的，我会写成报道公开曝光。",
			complainant: &complaintv1.Complainant{Media: true},
			category:    "counterfeit", signals: []string{"media_exposure", "media"}, severity: sevCrisis,
		},
		{
			name: "journalist without a threat is major, not crisis", script: hant,
			text:     "我是記者，買到的名牌包是假貨，防偽碼查不到。",
			category: "counterfeit", signals: []string{"media"}, severity: sevMajor, ctype: typeQuiet,
		},
		{
			name: "lawyer's letter over counterfeits", script: hant,
			text:     "已請律師發律師函，你們銷售仿冒商品，準備起訴。",
			category: "counterfeit", signals: []string{"lawsuit"}, severity: sevHigh,
		},
		{
			name: "Weibo post with a large reach", script: hans,
			text:    "这家旗舰店卖假货，买到假货还不给退，大家避雷。",
			channel: "weibo", followers: 52000,
			category: "counterfeit", secondary: []string{"after_sales_refusal"}, signals: []string{"large_reach"}, severity: sevMajor,
		},
		{
			name: "English counterfeit with a lawyer", script: en,
			text:     "This is a FAKE, a counterfeit bag. I will contact my lawyer and sue you.",
			category: "counterfeit", signals: []string{"lawsuit"}, severity: sevHigh, ctype: typeAggressive,
		},
		// ---- logistics_wrong_item 物流与错发
		{
			name: "signed for but never received", script: hans,
			text:     "快递显示已签收但我根本没收到，包裹被签收了也没人打电话。",
			category: "logistics_wrong_item", severity: sevNormal,
		},
		{
			name: "wrong colour and a missing part", script: hant,
			text:     "我買的是黑色，寄錯成白色，還漏發了一個配件。",
			category: "logistics_wrong_item", severity: sevNormal,
		},
		{
			name: "stuck parcel, second contact", script: hans,
			text:     "物流停滞五天了，又来问一次，到底什么时候能送到？",
			contacts: 2,
			category: "logistics_wrong_item", signals: []string{"repeat_contact"}, severity: sevNormal, ctype: typeHabitual,
		},
		{
			name: "lost parcel, passed around twice", script: hant,
			text:      "快遞丟件，客服推來推去，每次都要重新說一遍。",
			transfers: 2,
			category:  "logistics_wrong_item", signals: []string{"passed_around"}, severity: sevHigh,
		},
		{
			name: "VIP member, wrong item sent", script: hans,
			text:        "我是88VIP会员，发错货了，买的是128G发来的是64G。",
			complainant: &complaintv1.Complainant{Vip: true},
			category:    "logistics_wrong_item", signals: []string{"vip"}, severity: sevNormal,
		},
		{
			name: "short shipment and no reply", script: hans,
			text:     "买了两盒只收到一盒，少发了，联系客服一直不回复。",
			category: "logistics_wrong_item", secondary: []string{"service_attitude"}, severity: sevNormal,
		},
		{
			name: "exclamation burst, wrong item", script: hans,
			text:     "发错货了！！！马上给我换！！！",
			category: "logistics_wrong_item", severity: sevNormal, ctype: typeAggressive,
		},
		{
			name: "parcel stuck at the hub", script: hant,
			text:     "物流三天沒更新，包裹卡在轉運中心，到底還要等多久？",
			category: "logistics_wrong_item", severity: sevNormal,
		},
		{
			name: "order number holding 315 is no threat", script: mixed,
			text:     "Order 2026031500123 還沒收到, courier says delivered 但我真的沒收到。",
			category: "logistics_wrong_item", severity: sevNormal,
		},
		{
			name: "membership level from the source", script: mixed,
			text:        "請問為什麼我的order還沒發貨？",
			complainant: &complaintv1.Complainant{Level: "88VIP"},
			category:    "logistics_wrong_item", signals: []string{"vip"}, severity: sevNormal,
		},
		{
			name: "mixed-language lost parcel", script: mixed,
			text:     "客服 reply 太慢，我的 parcel 丟件了，very disappointed.",
			category: "logistics_wrong_item", severity: sevNormal, ctype: typeQuiet,
		},
		// ---- after_sales_refusal 售后拒绝
		{
			name: "seed 004 story, exchange refused after a wrong item, 315 threat", script: hans,
			text:     "一开始买的东西给我寄错了，联系客服先说给我换一个，然后问了好几个都说没货，转接另一个售后客服但却直接翻脸不给换。再接进客服，就说之前的客服说错了，变脸技术是真的牛，自己说的都能变吗？实在不行我只能315了，呵呵了。",
			contacts: 3,
			category: "after_sales_refusal", secondary: []string{"logistics_wrong_item", "service_attitude"}, signals: []string{"threat_315", "repeat_contact"}, severity: sevMajor,
		},
		{
			name: "seven-day return rejected", script: hans,
			text:     "七天无理由退货被驳回，商家说拆封了就不给退。",
			category: "after_sales_refusal", severity: sevNormal,
		},
		{
			name: "refund refused, still not credited", script: hant,
			text:     "申請退款被拒，售後拒絕處理，錢遲遲不到賬。",
			category: "after_sales_refusal", severity: sevNormal,
		},
		{
			name: "third contact, association threat", script: hans,
			text:     "第三次找你们了，售后拒绝退货，再不处理我就去消协投诉。",
			contacts: 3,
			category: "after_sales_refusal", signals: []string{"consumer_association", "repeat_complaint", "repeat_contact"}, severity: sevHigh, ctype: typeHabitual,
		},
		{
			name: "civil servant, air conditioner refused", script: hant,
			text:        "本人是公務員，買的空調裝好後不製冷，售後拒不處理，不給退也不給換。",
			complainant: &complaintv1.Complainant{Official: true},
			category:    "after_sales_refusal", secondary: []string{"quality"}, signals: []string{"official"}, severity: sevMajor,
		},
		{
			name: "Heimao post about a slow refund", script: hans,
			text:     "退款申请了半个月一直没到账，商家拒绝处理。",
			channel:  "heimao",
			category: "after_sales_refusal", severity: sevHigh,
		},
		{
			name: "CCTV 315 gala threat", script: hant,
			text:     "再不給退貨我就寫信給央視315晚會。",
			category: "after_sales_refusal", signals: []string{"threat_315"}, severity: sevMajor, ctype: typeAggressive,
		},
		{
			name: "diamond member, watch return rejected", script: hant,
			text:  "鑽石會員，買的萬元手錶走時不準，七天無理由退貨卻被駁回。",
			order: "12800", complainant: &complaintv1.Complainant{Vip: true},
			category: "after_sales_refusal", signals: []string{"high_amount", "vip"}, severity: sevHigh,
		},
		// ---- service_attitude 服务态度
		{
			name: "rude agent hung up", script: hans,
			text:     "客服态度恶劣，问了三遍都不耐烦，还直接挂电话。",
			category: "service_attitude", severity: sevNormal,
		},
		{
			name: "insulted and blocked", script: hant,
			text:     "你們客服什麼態度？罵人還把我拉黑！！！垃圾客服，我受夠了。",
			category: "service_attitude", severity: sevNormal, ctype: typeAggressive,
		},
		{
			name: "passed around three times", script: hans,
			text:      "客服之间踢皮球，一个推给一个，谁都不管。",
			transfers: 3,
			category:  "service_attitude", signals: []string{"passed_around"}, severity: sevHigh,
		},
		{
			name: "score of private signals reaches major", script: hans,
			text:     "多次反映没人理，客服互相推诿，你们这是欺诈，我要起诉。",
			category: "service_attitude", signals: []string{"repeat_complaint", "passed_around", "refund_triple", "lawsuit"}, severity: sevMajor,
		},
		{
			name: "robot replies only", script: hant,
			text:     "問了一整天都是機器人回覆，已讀不回。",
			category: "service_attitude", severity: sevNormal,
		},
		{
			name: "fifth contact on Heimao", script: hant,
			text:    "客服一直敷衍，第五次聯繫還是沒人理。",
			channel: "heimao", contacts: 5,
			category: "service_attitude", signals: []string{"repeat_complaint", "repeat_contact"}, severity: sevCrisis, ctype: typeHabitual,
		},
		// ---- privacy 信息安全/隐私
		{
			name: "nuisance calls after ordering", script: hans,
			text:     "下单后天天接到骚扰电话，对方能说出我的手机号和地址，怀疑你们泄露了个人信息。",
			category: "privacy", severity: sevNormal,
		},
		{
			name: "leaked data, regulator", script: hant,
			text:     "我的個人資料被外洩，接到詐騙電話，我要向市監局舉報。",
			category: "privacy", signals: []string{"regulator"}, severity: sevHigh, ctype: typeAggressive,
		},
		{
			name: "account stolen, 3000 charged, lawyer", script: hans,
			text:     "账号被盗还被盗刷了3000元，你们平台的信息安全有问题，我已经找律师了。",
			claimed:  "3000",
			category: "privacy", signals: []string{"lawsuit", "high_amount"}, severity: sevHigh,
		},
		{
			name: "English data leak", script: en,
			text:     "My personal information was leaked, and now I keep getting spam calls every day.",
			category: "privacy", severity: sevNormal,
		},
		{
			name: "spam SMS is not an insult", script: hant,
			text:     "買完東西以後每天收到垃圾短信，請你們查一下是不是洩露了我的手機號。",
			category: "privacy", severity: sevNormal, ctype: typeQuiet,
		},
		{
			name: "Hong Kong consumer council", script: hant,
			text:     "你們洩露我的個人資料，我會向消委會投訴。",
			category: "privacy", signals: []string{"consumer_association"}, severity: sevHigh, ctype: typeAggressive,
		},
		// ---- other 其他: threats alone, and cases named by their channel
		{
			name: "opening hours question", script: hans,
			text:     "你好，想咨询一下你们门店几点开门。",
			category: "other", severity: sevNormal, ctype: typeQuiet,
		},
		{
			name: "invoice question", script: hant,
			text:     "請問你們可以開發票嗎？",
			category: "other", severity: sevNormal, ctype: typeQuiet,
		},
		{
			name: "seed 004 one-liner", script: hant,
			text:     "實在不行我只能315了，呵呵了。",
			category: "other", signals: []string{"threat_315"}, severity: sevMajor,
		},
		{
			name: "12315 is not a 315 threat", script: hant,
			text:     "我已經在12315登記了。",
			category: "other", signals: []string{"threat_12315"}, severity: sevHigh,
		},
		{
			name: "fifth contact going to Weibo", script: hans,
			text:     "第五次联系了还没解决，我要发微博曝光你们。",
			contacts: 5,
			category: "other", signals: []string{"media_exposure", "repeat_complaint", "repeat_contact"}, severity: sevCrisis,
		},
		{
			name: "blogger threatening exposure", script: hans,
			text:     "我是博主，粉丝十几万，这件事我会发到网上让大家看看。",
			category: "other", signals: []string{"media_exposure", "celebrity"}, severity: sevCrisis,
		},
		{
			name: "ODR case, toothbrush will not charge", script: hans,
			text:     "消费者通过12315平台反映：购买的电动牙刷不充电，要求退货。",
			channel:  "odr_12315",
			category: "quality", signals: []string{"threat_12315"}, severity: sevHigh,
		},
	}
}

func (c classifyCase) input(t testing.TB) ClassifyInput {
	t.Helper()
	in := ClassifyInput{
		ShopID:      "demo-flagship",
		At:          classifyBattleDay(t),
		Text:        c.text,
		Channel:     complaintv1.Channel_CHANNEL_ONLINE_CHAT,
		Contacts:    max(c.contacts, 1),
		Transfers:   c.transfers,
		Followers:   c.followers,
		Complainant: c.complainant,
	}
	if c.channel != "" {
		ch, ok := complaintv1.Channel_value["CHANNEL_"+strings.ToUpper(c.channel)]
		if !ok {
			t.Fatalf("case %q: unknown channel %q", c.name, c.channel)
		}
		in.Channel = complaintv1.Channel(ch)
	}
	fen := func(s string) int64 {
		if s == "" {
			return 0
		}
		f, err := policy.ParseYuan(s)
		if err != nil {
			t.Fatalf("case %q: %v", c.name, err)
		}
		return int64(f)
	}
	in.ClaimedAmountFen, in.OrderAmountFen = fen(c.claimed), fen(c.order)
	return in
}

func riskCodes(c *complaintv1.ComplaintClassified) []string {
	out := make([]string, 0, len(c.GetRiskSignals()))
	for _, r := range c.GetRiskSignals() {
		out = append(out, r.GetCode())
	}
	return out
}

func sameCodes(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range b {
		if !slices.Contains(a, x) {
			return false
		}
	}
	return true
}

// TestClassifyTable classifies real-style complaints in both scripts and
// checks what an agent sees: category, the exact risk signals, severity and,
// where the case is about it, the customer-type hint.
func TestClassifyTable(t *testing.T) {
	p := classifyPolicy(t)
	cases := classifyCases()
	scripts := map[string]int{}
	for _, c := range cases {
		scripts[c.script]++
	}
	if len(cases) < 60 || scripts[scriptHans] < 25 || scripts[scriptHant] < 25 {
		t.Fatalf("table holds %d cases %v; want ≥ 60 with ≥ 25 in each script", len(cases), scripts)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Classify(p, c.input(t))
			if got.GetCategory() != c.category {
				t.Errorf("category = %q, want %q", got.GetCategory(), c.category)
			}
			if c.secondary != nil && !slices.Equal(got.GetSecondaryCategories(), c.secondary) {
				t.Errorf("secondary = %v, want %v", got.GetSecondaryCategories(), c.secondary)
			}
			if !sameCodes(riskCodes(got), c.signals) {
				t.Errorf("signals = %v, want %v", riskCodes(got), c.signals)
			}
			if got.GetSeverity() != c.severity {
				t.Errorf("severity = %s, want %s", got.GetSeverity(), c.severity)
			}
			if c.ctype != complaintv1.CustomerType_CUSTOMER_TYPE_UNSPECIFIED && got.GetCustomerType() != c.ctype {
				t.Errorf("customer type = %s, want %s", got.GetCustomerType(), c.ctype)
			}
			for _, r := range got.GetRiskSignals() {
				if r.GetEvidence() == "" || r.GetWeight() < 0 {
					t.Errorf("signal %s: evidence %q, weight %d", r.GetCode(), r.GetEvidence(), r.GetWeight())
				}
			}
			if t.Failed() {
				t.Logf("explanation: %s", got.GetExplanation())
			}
		})
	}
}

// TestClassifyEvidenceNamesTheWords: an agent sees which words and which
// counts raised each signal, and the explanation names the rules.
func TestClassifyEvidenceNamesTheWords(t *testing.T) {
	p := classifyPolicy(t)
	got := Classify(p, ClassifyInput{
		ShopID: "demo-flagship", At: classifyBattleDay(t), Channel: complaintv1.Channel_CHANNEL_HOTLINE_400,
		Text:     "第三次打電話了！面霜過期，我要打12315，再不行就找記者曝光。",
		Contacts: 3, Transfers: 2, ClaimedAmountFen: 250000,
		Complainant: &complaintv1.Complainant{Vip: true, Level: "88VIP"},
	})
	want := map[string]string{
		"threat_12315":     "打12315、12315",
		"media_exposure":   "找记者、曝光",
		"repeat_complaint": "第三次",
		"passed_around":    "转手2次（≥2）",
		"repeat_contact":   "第3次进线",
		"high_amount":      "金额2500.00元（≥2000.00元）",
		"vip":              "客户档案标记",
	}
	var order []string
	for _, r := range got.GetRiskSignals() {
		order = append(order, r.GetCode())
		if w, ok := want[r.GetCode()]; !ok {
			t.Errorf("unexpected signal %s (%s)", r.GetCode(), r.GetEvidence())
		} else if r.GetEvidence() != w {
			t.Errorf("signal %s evidence = %q, want %q", r.GetCode(), r.GetEvidence(), w)
		}
	}
	// Policy order: signals as listed in kesu.yaml, then complainant flags.
	wantOrder := []string{"threat_12315", "media_exposure", "repeat_complaint", "passed_around", "repeat_contact", "high_amount", "vip"}
	if !slices.Equal(order, wantOrder) {
		t.Errorf("signal order = %v, want %v", order, wantOrder)
	}
	if got.GetCategory() != "expired_goods" || got.GetSeverity() != complaintv1.Severity_SEVERITY_CRISIS {
		t.Errorf("category %s severity %s, want expired_goods crisis", got.GetCategory(), got.GetSeverity())
	}
	if got.GetRepeatContacts() != 2 || got.GetRiskScore() != 30+30+10+15+10+20+10 || got.GetPhase() != "battle" {
		t.Errorf("repeat %d score %d phase %q", got.GetRepeatContacts(), got.GetRiskScore(), got.GetPhase())
	}
	ex := got.GetExplanation()
	for _, s := range []string{
		"过期/变质商品", "过期", "扬言投诉 12315[threat_12315]（打12315、12315", "找记者、曝光",
		"rule two public signals and VIP: crisis", "严重程度：危机", "作战",
		// Two cues each (threats; 第三次, the 3rd contact): aggressive is listed first.
		"客户类型提示：激进型（线索：扬言投诉 12315、扬言媒体曝光）", "第三次", "第3次进线",
	} {
		if !strings.Contains(ex, s) {
			t.Errorf("explanation lacks %q:\n%s", s, ex)
		}
	}
}

// TestClassifyLeaksNoText: the classification is stored and shown beside the
// sealed text, so nothing of the text but policy keywords may appear in it.
func TestClassifyLeaksNoText(t *testing.T) {
	p := classifyPolicy(t)
	secrets := []string{"张三丰", "13812345678", "朝阳区幸福路88号", "紫色独角兽", "wu.dang@example.com"}
	text := "我叫张三丰，电话13812345678，住朝阳区幸福路88号，邮箱wu.dang@example.com。买的紫色独角兽面霜过期了，" +
		"客服态度恶劣，我要投诉到12315并找媒体曝光！！！"
	got := Classify(p, ClassifyInput{ShopID: "demo-flagship", At: classifyBattleDay(t), Text: text, Contacts: 2})
	all := prototext.Format(got)
	for _, s := range secrets {
		if strings.Contains(all, s) {
			t.Errorf("classification contains %q:\n%s", s, all)
		}
	}
	// Everything the text contributed is a keyword of the policy.
	kws := map[string]bool{}
	for _, c := range p.Categories {
		for _, k := range c.Keywords {
			kws[k] = true
		}
	}
	for _, s := range p.Risk.Signals {
		for _, k := range s.Keywords {
			kws[k] = true
		}
	}
	for _, r := range got.GetRiskSignals() {
		if r.GetCode() == "repeat_contact" {
			continue
		}
		for _, k := range strings.Split(r.GetEvidence(), "、") {
			if !kws[k] {
				t.Errorf("evidence %q of %s is not a policy keyword", k, r.GetCode())
			}
		}
	}
}

// TestClassifyIsDeterministic: the same complaint classifies identically
// every time (maps inside must not leak their order into the message).
func TestClassifyIsDeterministic(t *testing.T) {
	p := classifyPolicy(t)
	in := ClassifyInput{
		ShopID: "demo-flagship", At: classifyBattleDay(t), Channel: complaintv1.Channel_CHANNEL_WEIBO, Followers: 20000,
		Text:     "質量差、過期、假貨、發錯貨、滿減不生效、虛假宣傳、態度差、洩露個人信息，我要打12315、找消協、告你們、退一賠三、退一賠十，還要上央視315！",
		Contacts: 4, Transfers: 3, ClaimedAmountFen: 999900,
		Complainant: &complaintv1.Complainant{Vip: true, Media: true, Official: true, Celebrity: true},
	}
	first := Classify(p, in)
	if len(first.GetSecondaryCategories()) < 5 || len(first.GetRiskSignals()) < 12 {
		t.Fatalf("want a complaint touching many rules, got %v and %v", first.GetSecondaryCategories(), riskCodes(first))
	}
	for i := range 50 {
		if again := Classify(p, in); !proto.Equal(first, again) {
			t.Fatalf("run %d differs:\n%s\nvs\n%s", i, prototext.Format(first), prototext.Format(again))
		}
	}
}

// TestClassifyKeepsDeclaredType: a type set by the source or an agent is
// kept; the hint only fills an unset one.
func TestClassifyKeepsDeclaredType(t *testing.T) {
	p := classifyPolicy(t)
	text := "马上给我退款！！！否则我就去消协！"
	hint := Classify(p, ClassifyInput{ShopID: "demo-flagship", Text: text})
	if hint.GetCustomerType() != complaintv1.CustomerType_CUSTOMER_TYPE_AGGRESSIVE {
		t.Fatalf("hint = %s, want aggressive", hint.GetCustomerType())
	}
	for _, declared := range []complaintv1.CustomerType{
		complaintv1.CustomerType_CUSTOMER_TYPE_QUIET, complaintv1.CustomerType_CUSTOMER_TYPE_HABITUAL,
	} {
		got := Classify(p, ClassifyInput{ShopID: "demo-flagship", Text: text, DeclaredType: declared})
		if got.GetCustomerType() != declared {
			t.Errorf("declared %s, got %s", declared, got.GetCustomerType())
		}
		if !strings.Contains(got.GetExplanation(), "已指定，保留") {
			t.Errorf("explanation does not say the type was kept: %s", got.GetExplanation())
		}
	}
}

// TestClassifyPhase: the phase is judged in the shop's zone and season.
func TestClassifyPhase(t *testing.T) {
	p := classifyPolicy(t)
	sh := classifyZone(t)
	cases := []struct {
		name, shop string
		at         time.Time
		want       string
	}{
		{"preparation", "demo-flagship", time.Date(2026, 3, 1, 9, 0, 0, 0, sh), "preparation"},
		{"battle starts at midnight in Shanghai", "demo-flagship", time.Date(2026, 3, 10, 16, 0, 0, 0, time.UTC), "battle"},
		{"aftermath", "demo-flagship", time.Date(2026, 4, 10, 23, 0, 0, 0, sh), "aftermath"},
		{"off season is empty", "demo-flagship", time.Date(2026, 6, 1, 9, 0, 0, 0, sh), ""},
		{"the outlet's short season", "demo-outlet", time.Date(2026, 3, 1, 9, 0, 0, 0, sh), ""},
		{"the outlet's battle", "demo-outlet", time.Date(2026, 3, 14, 9, 0, 0, 0, sh), "battle"},
		{"unknown shop", "nowhere", time.Date(2026, 3, 14, 9, 0, 0, 0, sh), ""},
		{"no time", "demo-flagship", time.Time{}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Classify(p, ClassifyInput{ShopID: tc.shop, At: tc.at, Text: "质量问题"})
			if got.GetPhase() != tc.want {
				t.Errorf("phase = %q, want %q", got.GetPhase(), tc.want)
			}
		})
	}
}

// TestClassifierVersionNamesThePolicy: a classification records which rules
// decided it, and an edited policy file gives a different version.
func TestClassifierVersionNamesThePolicy(t *testing.T) {
	data, err := os.ReadFile(shippedPolicy)
	if err != nil {
		t.Fatal(err)
	}
	p1, err := policy.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(data), "weight: 40\n      severity: major\n      keywords: [\"315\"", "weight: 45\n      severity: major\n      keywords: [\"315\"", 1)
	if edited == string(data) {
		t.Fatal("edit did not apply")
	}
	p2, err := policy.Parse([]byte(edited))
	if err != nil {
		t.Fatal(err)
	}
	in := ClassifyInput{ShopID: "demo-flagship", Text: "315"}
	v1, v2 := Classify(p1, in).GetClassifierVersion(), Classify(p2, in).GetClassifierVersion()
	if !strings.HasPrefix(v1, "classify-r1+policy-v1-") || !strings.HasSuffix(v1, p1.Digest[:12]) {
		t.Errorf("version = %q, want classify-r1+policy-v1-%s", v1, p1.Digest[:12])
	}
	if v1 == v2 {
		t.Errorf("an edited policy kept version %q", v1)
	}
}

// TestClassifyOddInput: nothing the caller passes makes Classify panic or
// invent signals.
func TestClassifyOddInput(t *testing.T) {
	p := classifyPolicy(t)
	cases := []struct {
		name string
		in   ClassifyInput
	}{
		{"zero", ClassifyInput{}},
		{"negative counts", ClassifyInput{Contacts: -3, Transfers: -1, ClaimedAmountFen: -500, OrderAmountFen: -1, Followers: -9}},
		{"unknown channel", ClassifyInput{Channel: complaintv1.Channel(99), Text: "你好"}},
		{"invalid UTF-8", ClassifyInput{Text: "质量\xff\xfe问题"}},
		{"only punctuation", ClassifyInput{Text: "？？？。。。"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Classify(p, tc.in)
			if got.GetSeverity() != complaintv1.Severity_SEVERITY_NORMAL || got.GetRepeatContacts() != 0 {
				t.Errorf("severity %s repeat %d", got.GetSeverity(), got.GetRepeatContacts())
			}
			if len(got.GetRiskSignals()) != 0 {
				t.Errorf("signals = %v", riskCodes(got))
			}
			if got.GetCategory() == "" || got.GetClassifierVersion() == "" || got.GetExplanation() == "" {
				t.Errorf("incomplete: %s", prototext.Format(got))
			}
		})
	}
	if got := Classify(p, ClassifyInput{Contacts: math.MaxInt}); got.GetRepeatContacts() != math.MaxInt32 || got.GetSeverity() != sevHigh {
		t.Errorf("huge contact count: repeat %d, severity %s", got.GetRepeatContacts(), got.GetSeverity())
	}
	if got := Classify(nil, ClassifyInput{Text: "质量问题"}); got.GetCategory() != "other" || got.GetSeverity() != complaintv1.Severity_SEVERITY_NORMAL {
		t.Errorf("without a policy: %s", prototext.Format(got))
	}
}

// TestClassifyWithoutCustomerTypes: a policy without customer_types hints
// no type rather than guessing.
func TestClassifyWithoutCustomerTypes(t *testing.T) {
	data, err := os.ReadFile(shippedPolicy)
	if err != nil {
		t.Fatal(err)
	}
	src := string(data)
	start := strings.Index(src, "customer_types:\n")
	end := strings.Index(src, "# --------------------------------------------------- tiers")
	if start < 0 || end < start {
		t.Fatal("customer_types section not found")
	}
	p, err := policy.Parse([]byte(src[:start] + src[end:]))
	if err != nil {
		t.Fatal(err)
	}
	got := Classify(p, ClassifyInput{ShopID: "demo-flagship", Text: "马上退款！！！"})
	if got.GetCustomerType() != complaintv1.CustomerType_CUSTOMER_TYPE_UNSPECIFIED {
		t.Errorf("customer type = %s, want unspecified", got.GetCustomerType())
	}
}

// TestChannelID: every proto channel has its policy channel.
func TestChannelID(t *testing.T) {
	p := classifyPolicy(t)
	for v, name := range complaintv1.Channel_name {
		c := complaintv1.Channel(v)
		id := ChannelID(c)
		if c == complaintv1.Channel_CHANNEL_UNSPECIFIED {
			if id != "" {
				t.Errorf("unspecified maps to %q", id)
			}
			continue
		}
		if _, ok := p.Channel(id); !ok {
			t.Errorf("%s maps to %q, not a policy channel", name, id)
		}
	}
	if ChannelID(complaintv1.Channel(99)) != "" {
		t.Error("an unknown channel must map to nothing")
	}
}
