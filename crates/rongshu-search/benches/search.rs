//! Catalog search with 100,000 generated resources: full rebuild time, then the latency
//! of ~2,000 Chinese queries (some with filters) beside a plain substring scan of the same
//! documents, which is what a SQL `LIKE '%q%'` over name, summary and keywords does.
//!
//! Run with `cargo bench -p rongshu-search`; set `RONGSHU_BENCH_DOCS` for another size.

use std::time::{Duration, Instant};

use rongshu_search::{CatalogDoc, Facet, SearchIndex, SearchQuery, SortOrder};

const DEFAULT_DOCS: usize = 100_000;
const QUERIES: usize = 2_000;
const WARMUP: usize = 200;

#[rustfmt::skip]
const DISTRICTS: &[&str] = &[
    "成都市", "锦江区", "青羊区", "金牛区", "武侯区", "成华区", "龙泉驿区", "青白江区", "新都区", "温江区",
    "双流区", "郫都区", "新津区", "简阳市", "都江堰市", "彭州市", "邛崃市", "崇州市", "金堂县", "大邑县",
    "蒲江县",
];

/// (department, code, topic, subjects: (subject, keywords, items)).
type Department = (&'static str, &'static str, &'static str, &'static [Subject]);
type Subject = (
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
);

#[rustfmt::skip]
const DEPARTMENTS: &[Department] = &[
    ("公安局", "GA", "公共安全", &[
        ("人口基础信息", &["户籍", "常住人口"], &["公民身份号码", "姓名", "性别", "出生日期", "户籍地址"]),
        ("流动人口居住登记信息", &["居住证"], &["公民身份号码", "居住地址", "登记日期"]),
        ("机动车登记信息", &["车辆", "号牌"], &["号牌号码", "车辆识别代号", "所有人"]),
        ("机动车驾驶证信息", &["驾驶人"], &["驾驶证号", "准驾车型", "累积记分"]),
        ("出入境证件信息", &["护照", "通行证"], &["证件号码", "签发日期"]),
    ]),
    ("教育局", "JY", "教育科技", &[
        ("中小学校名录", &["学校", "小学", "初中"], &["学校名称", "学段", "地址"]),
        ("幼儿园名录", &["学前教育"], &["园所名称", "办园性质"]),
        ("学生学籍信息", &["学籍"], &["学籍号", "姓名", "年级"]),
        ("教师资格信息", &["教师"], &["资格证书号", "任教学科"]),
    ]),
    ("民政局", "MZ", "民生服务", &[
        ("婚姻登记信息", &["结婚登记", "离婚登记"], &["男方姓名", "女方姓名", "登记日期"]),
        ("最低生活保障对象信息", &["低保", "救助"], &["保障人数", "保障金额"]),
        ("养老机构名录", &["养老院"], &["机构名称", "床位数"]),
        ("殡葬服务火化信息", &["遗体火化"], &["逝者姓名", "火化日期"]),
        ("社会组织登记信息", &["社团", "民非"], &["统一社会信用代码", "组织名称"]),
    ]),
    ("人力资源和社会保障局", "RS", "社会保障", &[
        ("社会保险参保信息", &["养老保险", "参保"], &["个人编号", "参保状态", "公民身份号码"]),
        ("就业失业登记信息", &["失业登记", "求职"], &["登记类型", "登记日期"]),
        ("职业技能等级证书信息", &["技能证书"], &["证书编号", "职业工种"]),
        ("劳动合同备案信息", &["用工备案"], &["用人单位", "合同期限"]),
    ]),
    ("卫生健康委员会", "WJ", "医疗卫生", &[
        ("医疗机构名录", &["医院", "诊所", "卫生院"], &["机构名称", "机构等级", "地址"]),
        ("出生医学证明信息", &["新生儿"], &["新生儿姓名", "母亲公民身份号码", "出生日期"]),
        ("居民死亡医学证明信息", &["死因"], &["死者姓名", "死亡日期", "死亡原因"]),
        ("预防接种信息", &["疫苗"], &["受种者姓名", "疫苗名称", "接种日期"]),
        ("执业医师注册信息", &["医师"], &["医师姓名", "执业范围"]),
    ]),
    ("市场监督管理局", "SJ", "市场监管", &[
        ("企业登记信息", &["营业执照", "法人"], &["统一社会信用代码", "企业名称", "法定代表人"]),
        ("个体工商户登记信息", &["个体户"], &["经营者姓名", "字号名称"]),
        ("食品经营许可信息", &["食品安全", "许可证"], &["许可证编号", "经营项目"]),
        ("特种设备登记信息", &["电梯", "锅炉"], &["设备代码", "使用单位"]),
        ("药品零售企业名录", &["药店"], &["企业名称", "许可证编号"]),
    ]),
    ("税务局", "SW", "财税金融", &[
        ("纳税人登记信息", &["税务登记"], &["纳税人识别号", "纳税人名称"]),
        ("企业纳税信用等级", &["纳税信用"], &["信用等级", "评价年度"]),
        ("发票开具统计", &["增值税发票"], &["开票金额", "开票数量"]),
        ("欠税公告信息", &["欠税"], &["欠税金额", "税种"]),
    ]),
    ("住房和城乡建设局", "ZJ", "城乡建设", &[
        ("建筑工程施工许可信息", &["施工许可"], &["项目名称", "建设单位"]),
        ("商品房预售许可信息", &["预售证", "楼盘"], &["项目名称", "预售面积"]),
        ("物业服务企业名录", &["物业"], &["企业名称", "资质等级"]),
        ("城市道路基础信息", &["道路", "桥梁"], &["道路名称", "道路等级", "长度"]),
    ]),
    ("交通运输局", "JT", "交通服务", &[
        ("公交线路与站点", &["公交", "bus"], &["线路名称", "站点名称", "经度", "纬度"]),
        ("道路运输经营许可信息", &["货运", "客运"], &["许可证号", "经营范围"]),
        ("出租汽车营运信息", &["出租车", "网约车"], &["车牌号", "营运里程"]),
        ("公路里程统计", &["公路", "里程"], &["公路等级", "里程"]),
    ]),
    ("规划和自然资源局", "GT", "空间地理", &[
        ("不动产登记信息", &["产权", "不动产权证"], &["不动产单元号", "权利人", "坐落"]),
        ("基础地理信息数据", &["GIS", "电子地图"], &["图层名称", "比例尺"]),
        ("土地供应信息", &["土地出让"], &["宗地编号", "用途", "面积"]),
        ("地名地址信息", &["门牌", "地名"], &["标准地址", "经度", "纬度"]),
    ]),
    ("生态环境局", "HB", "能源环境", &[
        ("空气质量监测数据", &["AQI", "PM2.5"], &["站点名称", "aqi", "pm25"]),
        ("地表水水质监测数据", &["河流"], &["断面名称", "水质类别"]),
        ("排污许可信息", &["排污"], &["排污单位", "许可证编号"]),
        ("建设项目环境影响评价信息", &["环评"], &["项目名称", "审批文号"]),
    ]),
    ("统计局", "TJ", "经济建设", &[
        ("地区生产总值季度数据", &["GDP", "经济"], &["地区", "季度", "增速"]),
        ("常住人口统计年报", &["人口统计", "population"], &["年末常住人口", "城镇化率"]),
        ("规模以上工业增加值", &["工业"], &["行业", "增加值", "增速"]),
        ("居民消费价格指数", &["CPI", "物价"], &["类别", "指数"]),
    ]),
    ("医疗保障局", "YB", "社会保障", &[
        ("医疗保险参保缴费信息", &["参保缴费"], &["参保人编号", "缴费基数"]),
        ("定点医药机构名录", &["定点医院", "定点药店"], &["机构名称", "机构类型"]),
        ("医保基金结算统计", &["结算"], &["结算金额", "人次"]),
    ]),
    ("住房公积金管理中心", "GJ", "社会保障", &[
        ("住房公积金缴存信息", &["缴存", "提取"], &["个人账号", "缴存基数"]),
        ("公积金贷款发放信息", &["住房贷款"], &["贷款金额", "贷款期限"]),
    ]),
    ("文化广电旅游局", "WL", "文化娱乐", &[
        ("文物保护单位名录", &["文物"], &["文物名称", "保护级别"]),
        ("A级旅游景区名录", &["景区", "旅游"], &["景区名称", "等级"]),
        ("公共图书馆服务统计", &["图书馆"], &["馆藏数量", "借阅人次"]),
    ]),
    ("农业农村局", "NY", "农业农村", &[
        ("农产品质量安全检测信息", &["农产品"], &["样品名称", "检测结果"]),
        ("家庭农场名录", &["农场"], &["农场名称", "经营面积"]),
        ("农机购置补贴信息", &["农机", "补贴"], &["机具名称", "补贴金额"]),
    ]),
    ("水务局", "SWJ", "能源环境", &[
        ("河长制信息", &["河长"], &["河流名称", "河长姓名"]),
        ("城市供水水质信息", &["自来水"], &["水厂名称", "检测指标"]),
        ("水利工程名录", &["水库"], &["工程名称", "库容"]),
    ]),
    ("应急管理局", "YJ", "公共安全", &[
        ("安全生产许可信息", &["安全生产"], &["企业名称", "许可证编号"]),
        ("危险化学品企业名录", &["危化品"], &["企业名称", "储存品种"]),
        ("应急避难场所信息", &["避难场所"], &["场所名称", "容纳人数"]),
    ]),
    ("经济和信息化局", "JX", "经济建设", &[
        ("工业企业名录", &["工业企业"], &["企业名称", "行业类别"]),
        ("全社会用电量统计", &["电力", "用电"], &["用电量", "行业"]),
        ("5G基站建设信息", &["5G", "基站"], &["站址", "运营商"]),
    ]),
    ("司法局", "SF", "公共安全", &[
        ("律师事务所名录", &["律师"], &["机构名称", "执业许可证号"]),
        ("公证机构信息", &["公证"], &["机构名称", "公证员人数"]),
    ]),
    ("城市管理委员会", "CG", "城乡建设", &[
        ("生活垃圾处理设施信息", &["垃圾分类"], &["设施名称", "处理能力"]),
        ("城市公园名录", &["公园", "绿道"], &["公园名称", "面积"]),
    ]),
    ("气象局", "QX", "能源环境", &[
        ("地面气象观测数据", &["气温", "降水"], &["站点", "气温", "降水量"]),
        ("天气预报信息", &["预报"], &["预报时间", "天气现象"]),
    ]),
    ("体育局", "TY", "文化娱乐", &[
        ("公共体育场馆名录", &["体育场馆"], &["场馆名称", "开放时间"]),
    ]),
    ("退役军人事务局", "TW", "民生服务", &[
        ("优抚对象信息", &["优抚"], &["对象类别", "抚恤金额"]),
    ]),
];

const SUFFIXES: &[&str] = &[
    "",
    "",
    "汇总",
    "明细",
    "统计",
    "年度数据",
    "季度数据",
    "（历史）",
];
const KINDS: &[&str] = &["base", "theme", "department", "department", "department"];
const SHARE: &[&str] = &["unconditional", "conditional", "none"];
const OPEN: &[&str] = &["open", "conditional", "closed"];
const FORMATS: &[&str] = &["table", "table", "table", "file", "api"];
const CYCLES: &[&str] = &[
    "realtime",
    "daily",
    "weekly",
    "monthly",
    "quarterly",
    "yearly",
];
const STATUSES: &[&str] = &[
    "published",
    "published",
    "published",
    "updated",
    "draft",
    "retired",
];

/// A small deterministic generator (xorshift64*), so every run indexes the same city.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

fn generate(n: usize) -> Vec<CatalogDoc> {
    let mut rng = Rng(0x5EED_CD00_2016);
    (0..n)
        .map(|i| {
            let d = rng.below(DEPARTMENTS.len());
            let (dept, dept_code, topic, subjects) = DEPARTMENTS[d];
            let (subject, keywords, items) = *rng.pick(subjects);
            // Most resources sit with district departments; a third with the city's.
            let district = if rng.below(3) == 0 {
                0
            } else {
                1 + rng.below(DISTRICTS.len() - 1)
            };
            let provider_name = format!("{}{}", DISTRICTS[district], dept);
            let year = 2014 + rng.below(12);
            let suffix = rng.pick(SUFFIXES);
            let name = if suffix.contains("年度") || rng.below(4) == 0 {
                format!("{provider_name}{year}年{subject}{suffix}")
            } else {
                format!("{provider_name}{subject}{suffix}")
            };
            let cycle = *rng.pick(CYCLES);
            let summary = format!(
                "{provider_name}汇集的{subject}，包括{}等信息项，按{cycle}更新，供{}相关业务使用。",
                items.join("、"),
                topic
            );
            let mut topics = vec![topic.to_owned()];
            if rng.below(5) == 0 {
                let other = DEPARTMENTS[rng.below(DEPARTMENTS.len())].2;
                if other != topic {
                    topics.push(other.to_owned());
                }
            }
            CatalogDoc {
                code: format!("5101{:02}{dept_code}{i:07}", district),
                name,
                summary,
                provider_code: format!("5101{district:02}{dept_code}"),
                provider_name,
                kind: (*rng.pick(KINDS)).to_owned(),
                topics,
                keywords: keywords.iter().map(|k| (*k).to_owned()).collect(),
                items: items.iter().map(|k| (*k).to_owned()).collect(),
                share_type: (*rng.pick(SHARE)).to_owned(),
                open_type: (*rng.pick(OPEN)).to_owned(),
                format: (*rng.pick(FORMATS)).to_owned(),
                update_cycle: cycle.to_owned(),
                status: (*rng.pick(STATUSES)).to_owned(),
                updated_at: 1_420_000_000 + (rng.below(350_000_000) as i64),
            }
        })
        .collect()
}

/// Words a user types: subjects, synonyms, districts and departments.
#[rustfmt::skip]
const WORDS: &[&str] = &[
    "人口", "学校", "社保", "医院", "公积金", "不动产", "营业执照", "出生", "死亡", "婚姻",
    "纳税", "道路", "空气质量", "身份证", "车辆", "驾驶证", "GDP", "低保", "户籍", "幼儿园",
    "公交", "水质", "景区", "图书馆", "律师", "垃圾分类", "气象", "5G", "养老", "就业",
    "食品", "药品", "企业", "许可", "医保", "工商", "疫苗", "物业", "土地", "文物",
    "农产品", "电梯", "地图", "出租车", "发票", "信用", "统计", "名录", "税务", "房产",
    "机动车", "新生儿", "火化", "population",
];

/// Half single words, the rest a district and/or department with a word from one of its
/// resources (as someone looking for a known dataset types), a few empty browse pages;
/// a third with a filter.
fn queries(n: usize, docs: &[CatalogDoc]) -> Vec<SearchQuery> {
    let mut rng = Rng(0xBEEF_2016);
    (0..n)
        .map(|_| {
            let doc = rng.pick(docs);
            let district = DISTRICTS.iter().find(|d| doc.provider_name.starts_with(*d));
            let dept = doc
                .provider_name
                .trim_start_matches(district.copied().unwrap_or_default());
            let own_word = if doc.keywords.is_empty() || rng.below(2) == 0 {
                doc.items.first().cloned().unwrap_or_default()
            } else {
                rng.pick(&doc.keywords).clone()
            };
            let words = match rng.below(20) {
                0 => String::new(),
                1..=10 => (*rng.pick(WORDS)).to_owned(),
                11..=15 => format!("{} {own_word}", district.copied().unwrap_or_default()),
                16..=17 => format!("{dept} {own_word}"),
                _ => format!(
                    "{} {dept} {own_word}",
                    district.copied().unwrap_or_default()
                ),
            };
            let mut filters = Vec::new();
            match rng.below(9) {
                0 => filters.push((
                    Facet::Topic,
                    DEPARTMENTS[rng.below(DEPARTMENTS.len())].2.to_owned(),
                )),
                1 => filters.push((Facet::ShareType, (*rng.pick(SHARE)).to_owned())),
                2 => filters.push((Facet::Provider, doc.provider_code.clone())),
                _ => {}
            }
            SearchQuery {
                q: Some(words),
                filters,
                sort: if rng.below(10) == 0 {
                    SortOrder::Updated
                } else {
                    SortOrder::Relevance
                },
                offset: if rng.below(5) == 0 { 20 } else { 0 },
                limit: 20,
            }
        })
        .collect()
}

/// What a `LIKE '%w%'` scan does: every word must occur in name, summary or keywords.
fn substring_scan(docs: &[(String, &CatalogDoc)], query: &SearchQuery) -> usize {
    let q = query.q.as_deref().unwrap_or_default();
    let words: Vec<&str> = q.split_whitespace().collect();
    let mut matched = 0;
    for (text, doc) in docs {
        if !words.iter().all(|w| text.contains(w)) {
            continue;
        }
        let passes = query.filters.iter().all(|(facet, value)| match facet {
            Facet::Topic => doc.topics.iter().any(|t| t == value),
            Facet::ShareType => &doc.share_type == value,
            Facet::Provider => &doc.provider_code == value,
            _ => true,
        });
        if passes {
            matched += 1;
        }
    }
    matched
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn report(label: &str, mut times: Vec<Duration>) -> (f64, f64) {
    times.sort();
    let (p50, p99) = (percentile(&times, 0.50), percentile(&times, 0.99));
    println!(
        "{label:<24} p50 {p50:8.3} ms   p95 {:8.3} ms   p99 {p99:8.3} ms   max {:8.3} ms",
        percentile(&times, 0.95),
        percentile(&times, 1.0)
    );
    (p50, p99)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // `cargo test --all-targets` runs this without `--bench`: only `cargo bench` measures.
    if !std::env::args().any(|a| a == "--bench") {
        println!("search bench: run with `cargo bench -p rongshu-search`");
        return Ok(());
    }
    let n = std::env::var("RONGSHU_BENCH_DOCS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_DOCS);
    let started = Instant::now();
    let docs = generate(n);
    println!(
        "generated {n} resources in {:.2} s",
        started.elapsed().as_secs_f64()
    );

    let dir = tempfile::tempdir()?;
    let index = SearchIndex::open_or_create(dir.path())?;
    let started = Instant::now();
    let indexed = index.rebuild(docs.iter().cloned(), 1)?;
    let rebuild = started.elapsed();
    println!(
        "full rebuild of {indexed} resources: {:.2} s ({:.0} resources/s)",
        rebuild.as_secs_f64(),
        indexed as f64 / rebuild.as_secs_f64()
    );

    let texts: Vec<(String, &CatalogDoc)> = docs
        .iter()
        .map(|d| {
            (
                format!(
                    "{}\u{1}{}\u{1}{}",
                    d.name,
                    d.summary,
                    d.keywords.join("\u{1}")
                ),
                d,
            )
        })
        .collect();
    let mut queries = queries(QUERIES, &docs);
    if let Ok(only) = std::env::var("RONGSHU_BENCH_ONLY") {
        // Profiling aid: repeat one query text.
        for q in &mut queries {
            q.q = Some(only.clone());
            q.filters.clear();
        }
    }
    for q in queries.iter().take(WARMUP) {
        index.search(q)?;
    }

    let mut search_times = Vec::with_capacity(queries.len());
    let mut scan_times = Vec::with_capacity(queries.len());
    let (mut search_hits, mut scan_hits, mut empty) = (0usize, 0usize, 0usize);
    for q in &queries {
        let started = Instant::now();
        let results = index.search(q)?;
        search_times.push(started.elapsed());
        search_hits += results.total;
        empty += usize::from(results.total == 0);

        let started = Instant::now();
        scan_hits += std::hint::black_box(substring_scan(&texts, q));
        scan_times.push(started.elapsed());
    }
    println!(
        "{} queries; mean matches: index {:.0}, substring scan {:.0}; {empty} queries without a match",
        queries.len(),
        search_hits as f64 / queries.len() as f64,
        scan_hits as f64 / queries.len() as f64
    );
    if std::env::var_os("RONGSHU_BENCH_SLOWEST").is_some() {
        let mut slowest: Vec<(Duration, &SearchQuery)> =
            search_times.iter().copied().zip(queries.iter()).collect();
        slowest.sort_by_key(|s| std::cmp::Reverse(s.0));
        for (time, q) in slowest.iter().take(25) {
            println!(
                "  {:7.3} ms  {:?} {:?} {:?}",
                time.as_secs_f64() * 1000.0,
                q.q,
                q.filters,
                q.sort
            );
        }
    }
    let (s50, s99) = report("index search", search_times);
    let (b50, b99) = report("substring scan baseline", scan_times);
    println!(
        "speed-up over the scan: p50 {:.1}x, p99 {:.1}x",
        b50 / s50,
        b99 / s99
    );
    println!(
        "budget (p99 < 20 ms): {}",
        if s99 < 20.0 { "met" } else { "MISSED" }
    );

    // The costliest kind of request: no text, one broad filter, so every facet is counted
    // over about half the catalog (the unfiltered landing page has its counts cached).
    let browse = SearchQuery {
        filters: vec![(Facet::Status, "published".to_owned())],
        ..SearchQuery::default()
    };
    let mut browse_times = Vec::new();
    let mut browse_total = 0;
    for _ in 0..200 {
        let started = Instant::now();
        browse_total = index.search(&browse)?.total;
        browse_times.push(started.elapsed());
    }
    report(&format!("browse {browse_total}, facets"), browse_times);
    Ok(())
}
