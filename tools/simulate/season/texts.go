package season

// Complaint texts are built from templates, per category and script, filled
// with varied details. Every template carries keywords of its category in the
// shipped policy and none that would outvote it (season_test.go holds them to
// the policy's Matcher); products and fillers are chosen to carry no keyword
// at all. Placeholders: {P} product, {D} a count of days, {A} an amount in
// yuan, {O} the order id, {N} which contact this is.

// Script is the writing system of a text.
type Script string

// The scripts the simulator writes.
const (
	Simplified  Script = "zh-Hans"
	Traditional Script = "zh-Hant"
)

type phrasing struct{ hans, hant string }

func (p phrasing) in(s Script) string {
	if s == Traditional {
		return p.hant
	}
	return p.hans
}

// categoryText is what a category's complaints say and are about.
type categoryText struct {
	templates []phrasing
	products  []phrasing
	// price range of one unit in yuan.
	minPrice, maxPrice int
	// remedies the customer typically asks for.
	remedies []string
}

var categoryTexts = map[string]categoryText{
	"quality": {
		templates: []phrasing{
			{"上周买的{P}用了{D}天就坏了，麻烦看看怎么处理。", "上週買的{P}用了{D}天就壞了，麻煩看看怎麼處理。"},
			{"收到的{P}有明显瑕疵，做工差，订单号{O}。", "收到的{P}有明顯瑕疵，做工差，訂單號{O}。"},
			{"{P}到手第{D}天就出故障了，花了{A}元买的，质量太差。", "{P}到手第{D}天就出故障了，花了{A}元買的，質量太差。"},
			{"{P}拆开就有划痕，还有刺鼻的异味，订单{O}。", "{P}拆開就有劃痕，還有刺鼻的異味，訂單{O}。"},
		},
		products: []phrasing{
			{"电热水壶", "電熱水壺"}, {"羽绒服", "羽絨服"}, {"蓝牙耳机", "藍牙耳機"},
			{"空气炸锅", "空氣炸鍋"}, {"行李箱", "行李箱"}, {"电动牙刷", "電動牙刷"}, {"台灯", "檯燈"},
		},
		minPrice: 59, maxPrice: 1299, remedies: []string{"exchange", "repair", "refund"},
	},
	"expired_goods": {
		templates: []phrasing{
			{"收到的{P}已经过期{D}天了，生产日期是去年的。", "收到的{P}已經過期{D}天了，生產日期是去年的。"},
			{"{P}打开就发霉了，订单{O}，花了{A}元。", "{P}打開就發霉了，訂單{O}，花了{A}元。"},
			{"买的{P}是临期的，离保质期只剩{D}天，详情页没写。", "買的{P}是臨期的，離保質期只剩{D}天，詳情頁沒寫。"},
		},
		products: []phrasing{
			{"牛奶", "牛奶"}, {"面霜", "面霜"}, {"坚果礼盒", "堅果禮盒"}, {"月饼", "月餅"},
			{"奶粉", "奶粉"}, {"燕窝", "燕窩"},
		},
		minPrice: 29, maxPrice: 699, remedies: []string{"refund", "refund_tenfold"},
	},
	"price_size_error": {
		templates: []phrasing{
			{"下单{D}天后{P}就降价了{A}元，申请价保被拒，要求退差价。", "下單{D}天後{P}就降價了{A}元，申請價保被拒，要求退差價。"},
			{"尺码表写的是M码，收到的{P}明显偏小，尺寸不符。", "尺碼表寫的是M碼，收到的{P}明顯偏小，尺寸不符。"},
			{"页面标价{A}元，结账却多扣款了，订单{O}。", "頁面標價{A}元，結賬卻多扣款了，訂單{O}。"},
		},
		products: []phrasing{
			{"连衣裙", "連衣裙"}, {"运动鞋", "運動鞋"}, {"衬衫", "襯衫"}, {"电饭煲", "電飯煲"}, {"牛仔裤", "牛仔褲"},
		},
		minPrice: 79, maxPrice: 899, remedies: []string{"refund", "exchange"},
	},
	"promotion_rules": {
		templates: []phrasing{
			{"满500减50的活动，我凑单买了{P}，结果没有减，优惠券也没法用。", "滿500減50的活動，我湊單買了{P}，結果沒有減，優惠券也沒法用。"},
			{"说好的赠品没送，买{P}的时候页面写着买一送一。", "說好的贈品沒送，買{P}的時候頁面寫著買一送一。"},
			{"预售{P}付了定金，付尾款时活动价变了，多花了{A}元。", "預售{P}付了定金，付尾款時活動價變了，多花了{A}元。"},
		},
		products: []phrasing{
			{"洗发水", "洗髮水"}, {"咖啡机", "咖啡機"}, {"护肤套装", "護膚套裝"}, {"床上四件套", "床上四件套"}, {"猫粮", "貓糧"},
		},
		minPrice: 49, maxPrice: 999, remedies: []string{"refund", "compensation"},
	},
	"false_advertising": {
		templates: []phrasing{
			{"直播间说{P}是纯羊毛，收到一看是涤纶，这是虚假宣传，货不对板。", "直播間說{P}是純羊毛，收到一看是滌綸，這是虛假宣傳，貨不對板。"},
			{"商品页把{P}说得天花乱坠，实物和图片不一样，与描述不符。", "商品頁把{P}說得天花亂墜，實物和圖片不一樣，與描述不符。"},
			{"{P}宣传能美白祛斑，用了{D}天一点效果都没有，夸大宣传。", "{P}宣傳能美白祛斑，用了{D}天一點效果都沒有，誇大宣傳。"},
		},
		products: []phrasing{
			{"围巾", "圍巾"}, {"毛衣", "毛衣"}, {"面膜", "面膜"}, {"精华液", "精華液"}, {"大衣", "大衣"},
		},
		minPrice: 99, maxPrice: 1599, remedies: []string{"refund_triple", "refund"},
	},
	"counterfeit": {
		templates: []phrasing{
			{"买的{P}拿去专柜验货说是假货，防伪码也查不到。", "買的{P}拿去專櫃驗貨說是假貨，防偽碼也查不到。"},
			{"你们卖的{P}是高仿，根本不是正品，订单{O}。", "你們賣的{P}是高仿，根本不是正品，訂單{O}。"},
			{"{P}经鉴定是假的，花了{A}元买到仿冒品。", "{P}經鑑定是假的，花了{A}元買到仿冒品。"},
		},
		products: []phrasing{
			{"名牌包", "名牌包"}, {"香水", "香水"}, {"手表", "手錶"}, {"口红", "口紅"}, {"球鞋", "球鞋"},
		},
		minPrice: 299, maxPrice: 6999, remedies: []string{"refund_triple", "refund"},
	},
	"logistics_wrong_item": {
		templates: []phrasing{
			{"快递显示已签收但我根本没收到{P}，订单{O}。", "快遞顯示已簽收但我根本沒收到{P}，訂單{O}。"},
			{"物流停滞{D}天了，{P}到底什么时候能送到？", "物流停滯{D}天了，{P}到底什麼時候能送到？"},
			{"我买的是黑色{P}，寄错成白色，还漏发了一个配件。", "我買的是黑色{P}，寄錯成白色，還漏發了一個配件。"},
		},
		products: []phrasing{
			{"保温杯", "保溫杯"}, {"书包", "書包"}, {"显示器", "顯示器"}, {"台灯", "檯燈"}, {"卫衣", "衛衣"}, {"拖把", "拖把"},
		},
		minPrice: 39, maxPrice: 1999, remedies: []string{"exchange", "refund", "compensation"},
	},
	"after_sales_refusal": {
		templates: []phrasing{
			{"{P}符合七天无理由，申请退货却被驳回，订单{O}。", "{P}符合七天無理由，申請退貨卻被駁回，訂單{O}。"},
			{"申请退款{D}天了还是退款迟迟不到，{A}元没到账。", "申請退款{D}天了還是退款遲遲不到，{A}元沒到賬。"},
			{"客服拒绝退款，说{P}拆封了就不给退。", "客服拒絕退款，說{P}拆封了就不給退。"},
		},
		products: []phrasing{
			{"吸尘器", "吸塵器"}, {"外套", "外套"}, {"加湿器", "加濕器"}, {"跑步机", "跑步機"}, {"耳机", "耳機"},
		},
		minPrice: 99, maxPrice: 2999, remedies: []string{"return", "refund"},
	},
	"service_attitude": {
		templates: []phrasing{
			{"问{P}的问题，客服态度恶劣还挂电话。", "問{P}的問題，客服態度惡劣還掛電話。"},
			{"客服一直敷衍，已读不回，问了{D}次都没结果。", "客服一直敷衍，已讀不回，問了{D}次都沒結果。"},
			{"买{P}的事客服推来推去，踢皮球，态度差。", "買{P}的事客服推來推去，踢皮球，態度差。"},
		},
		products: []phrasing{{"沙发", "沙發"}, {"窗帘", "窗簾"}, {"床垫", "床墊"}, {"茶具", "茶具"}},
		minPrice: 99, maxPrice: 3999, remedies: []string{"apology"},
	},
	"privacy": {
		templates: []phrasing{
			{"在你们店买了{P}之后就一直接到骚扰电话，个人信息是不是泄露了？", "在你們店買了{P}之後就一直接到騷擾電話，個人信息是不是洩露了？"},
			{"刚下单就有人打电话说是客服要退款，我的手机号和地址被泄露了。", "剛下單就有人打電話說是客服要退款，我的手機號和地址被洩露了。"},
		},
		products: []phrasing{{"婴儿车", "嬰兒車"}, {"体重秤", "體重秤"}, {"眼镜", "眼鏡"}},
		minPrice: 99, maxPrice: 1999, remedies: []string{"apology", "compensation"},
	},
	"other": {
		templates: []phrasing{
			{"想咨询一下{P}的保养方法。", "想諮詢一下{P}的保養方法。"},
			{"建议你们{P}的包装换一下。", "建議你們{P}的包裝換一下。"},
		},
		products: []phrasing{{"实木餐桌", "實木餐桌"}, {"真皮钱包", "真皮錢包"}, {"羊绒衫", "羊絨衫"}},
		minPrice: 199, maxPrice: 2999, remedies: []string{"other"},
	},
}

// repeatTexts are what a customer says on a later contact about the same
// order: no category keywords, so the complaint keeps its category.
var repeatTexts = []phrasing{
	{"关于订单{O}，我之前已经反映过，到现在还没有人联系我。", "關於訂單{O}，我之前已經反映過，到現在還沒有人聯繫我。"},
	{"这是我第{N}次联系了，订单{O}的问题还没解决。", "這是我第{N}次聯繫了，訂單{O}的問題還沒解決。"},
	{"订单{O}怎么样了？请尽快给我答复。", "訂單{O}怎麼樣了？請儘快給我答覆。"},
	{"换了个渠道再说一次：订单{O}的事情一直没有结果。", "換了個渠道再說一次：訂單{O}的事情一直沒有結果。"},
}

// threatTexts raise one risk signal each (policy risk.signals ids).
var threatTexts = map[string]phrasing{
	"threat_12315":         {"再不处理我就打12315投诉。", "再不處理我就打12315投訴。"},
	"threat_315":           {"实在不行我只能315了。", "實在不行我只能315了。"},
	"media_exposure":       {"不解决我就发微博曝光。", "不解決我就發微博曝光。"},
	"consumer_association": {"我会去找消协。", "我會去找消協。"},
}

// threatOrder fixes the order threats are drawn in, for determinism.
var threatOrder = []string{"threat_12315", "threat_315", "media_exposure", "consumer_association"}

// Self-descriptions that raise a complainant flag, and the customer-type cues.
var (
	flagTexts = map[string]phrasing{
		"media":     {"我是记者，", "我是記者，"},
		"official":  {"我是人大代表，", "我是人大代表，"},
		"celebrity": {"我是博主，", "我是博主，"},
		"vip":       {"我是88VIP会员，", "我是88VIP會員，"},
	}
	aggressiveText = phrasing{"请马上给我个说法！", "請馬上給我個說法！"}
	habitualText   = phrasing{"又是这样，上次也出过问题。", "又是這樣，上次也出過問題。"}
)

var (
	surnames = []phrasing{{"王", "王"}, {"李", "李"}, {"张", "張"}, {"刘", "劉"}, {"陈", "陳"}, {"杨", "楊"},
		{"赵", "趙"}, {"黄", "黃"}, {"周", "周"}, {"吴", "吳"}, {"徐", "徐"}, {"孙", "孫"}, {"马", "馬"}, {"林", "林"}}
	honorifics = []phrasing{{"先生", "先生"}, {"女士", "女士"}}
)
