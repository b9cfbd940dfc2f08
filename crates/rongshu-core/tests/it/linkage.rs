//! Record linkage end to end on a small synthetic population with known truth:
//! blocking, EM without labels, scoring, and the decisions' precision and recall.

use std::collections::HashSet;

use rongshu_core::linkage::{
    Decision, Level, LinkageConfig, LinkageSpec, Outcome, ScoredPair, Table, link,
};

/// A tiny deterministic generator so the population is the same on every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "林", "罗", "高", "欧阳", "司马", "诸葛", "上官",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀", "霞", "平", "刚", "桂", "英", "华", "玉", "兰", "建", "国", "文", "辉", "斌", "波",
    "宇", "浩", "凯", "健", "俊", "帆", "帅", "鑫", "琳", "颖", "婷", "雪", "慧",
];
const DISTRICTS: &[&str] = &["锦江区", "青羊区", "金牛区", "武侯区", "成华区", "郫都区"];
const ROADS: &[&str] = &[
    "人民南路",
    "蜀都大道",
    "天府大道",
    "春熙路",
    "一环路",
    "羊西线",
    "府河路",
];

#[derive(Clone)]
struct Person {
    name: String,
    birth: (u32, u32, u32),
    phone: String,
    address: String,
}

fn person(rng: &mut Lcg) -> Person {
    let given_len = 1 + rng.below(2);
    let mut name = rng.pick(SURNAMES).to_owned();
    for _ in 0..given_len {
        name.push_str(rng.pick(GIVEN));
    }
    Person {
        name,
        birth: (
            1950 + rng.below(55) as u32,
            1 + rng.below(12) as u32,
            1 + rng.below(28) as u32,
        ),
        phone: format!("13{}{:08}", rng.below(10), rng.next() % 100_000_000),
        address: format!(
            "成都市{}{}{}号{}栋{}单元",
            rng.pick(DISTRICTS),
            rng.pick(ROADS),
            1 + rng.below(300),
            1 + rng.below(20),
            1 + rng.below(6)
        ),
    }
}

/// The department's copy of a person: typed again, with the usual slips.
fn noisy(rng: &mut Lcg, p: &Person) -> [Option<String>; 4] {
    let mut name: Vec<char> = p.name.chars().collect();
    if rng.chance(15) {
        // One character of the given name mistyped (a homophone in practice).
        let last = name.len() - 1;
        name[last] = rng.pick(GIVEN).chars().next().unwrap();
    }
    let (y, mut m, mut d) = p.birth;
    let birth = if rng.chance(10) && d <= 12 && d != m {
        std::mem::swap(&mut m, &mut d);
        format!("{y}-{m:02}-{d:02}")
    } else if rng.chance(5) {
        format!("{y}-{m:02}-{:02}", if d == 28 { 27 } else { d + 1 })
    } else if rng.chance(50) {
        // Another written form of the same date.
        format!("{y}年{m}月{d}日")
    } else {
        format!("{y}-{m:02}-{d:02}")
    };
    let phone = if rng.chance(15) {
        None
    } else {
        Some(p.phone.clone())
    };
    let address = if rng.chance(30) {
        p.address.trim_start_matches("成都市").to_owned()
    } else {
        p.address.clone()
    };
    [
        Some(name.into_iter().collect()),
        Some(birth),
        phone,
        Some(address),
    ]
}

fn columns() -> Vec<String> {
    ["name", "birth_date", "phone", "address"]
        .map(String::from)
        .to_vec()
}

fn config() -> LinkageConfig {
    let spec: LinkageSpec = serde_json::from_str(
        r#"{
          "columns": [
            {"name": "name", "kind": "chinese_name"},
            {"name": "birth_date", "kind": "date"},
            {"name": "phone", "kind": "phone"},
            {"name": "address", "kind": "address"}
          ],
          "blocking": [
            {"columns": ["birth_date"]},
            {"columns": ["name"]},
            {"columns": ["phone"]},
            {"columns": ["address"]}
          ],
          "thresholds": {"link": 0.9, "review": 0.5}
        }"#,
    )
    .unwrap();
    LinkageConfig::parse(spec).unwrap()
}

struct Population {
    registry: Table,
    records: Table,
    /// (registry id, record id) of the true matches.
    truth: HashSet<(String, String)>,
}

fn population(people: usize) -> Population {
    let mut rng = Lcg(20_261_127);
    let mut persons: Vec<Person> = (0..people).map(|_| person(&mut rng)).collect();
    // Same name, different people: common in China, and must not be linked.
    for i in 0..people / 10 {
        let mut namesake = person(&mut rng);
        namesake.name = persons[i].name.clone();
        persons.push(namesake);
    }
    let mut registry = Table::new(columns());
    for (i, p) in persons.iter().enumerate() {
        let values = vec![
            Some(p.name.clone()),
            Some(format!(
                "{:04}-{:02}-{:02}",
                p.birth.0, p.birth.1, p.birth.2
            )),
            Some(p.phone.clone()),
            Some(p.address.clone()),
        ];
        registry.push(format!("p{i}"), values).unwrap();
    }
    let mut records = Table::new(columns());
    let mut truth = HashSet::new();
    for (i, p) in persons.iter().enumerate().take(people) {
        let id = format!("r{i}");
        records
            .push(id.clone(), noisy(&mut rng, p).to_vec())
            .unwrap();
        truth.insert((format!("p{i}"), id));
    }
    // Records of people the registry does not know.
    for i in 0..people / 10 {
        let stranger = person(&mut rng);
        records
            .push(format!("x{i}"), noisy(&mut rng, &stranger).to_vec())
            .unwrap();
    }
    Population {
        registry,
        records,
        truth,
    }
}

fn linked(pairs: &[ScoredPair]) -> HashSet<(String, String)> {
    pairs
        .iter()
        .filter(|p| p.decision == Decision::Link)
        .map(|p| (p.left_id.clone(), p.right_id.clone()))
        .collect()
}

#[test]
fn em_linkage_finds_the_known_matches() {
    let population = population(300);
    let config = config();
    let run = link(&config, &population.registry, &population.records).unwrap();

    let links = linked(&run.pairs);
    let true_links = links.intersection(&population.truth).count() as f64;
    let precision = true_links / links.len() as f64;
    let recall = true_links / population.truth.len() as f64;
    let review = run
        .pairs
        .iter()
        .filter(|p| p.decision == Decision::Review)
        .count();
    eprintln!(
        "candidates {}, links {}, review {review}, precision {precision:.3}, recall {recall:.3}, \
         EM iterations {} (converged {}), λ {:.3}",
        run.pairs.len(),
        links.len(),
        run.em.iterations,
        run.em.converged,
        run.em.parameters.lambda
    );
    assert!(precision >= 0.95, "precision {precision}");
    assert!(recall >= 0.95, "recall {recall}");

    let exact_name = Outcome::Level(Level::Exact);
    let (m, u) = run
        .em
        .parameters
        .column("name")
        .and_then(|c| c.m_u(exact_name))
        .unwrap();
    assert!(m > u, "m {m} u {u} for an exact name");
    assert!(run.em.converged);
}

#[test]
fn namesakes_are_not_linked_and_a_transposed_birth_date_is() {
    let config = config();
    let mut registry = Table::new(columns());
    let mut records = Table::new(columns());
    let population = population(300);
    // Learn the parameters on the population, then judge the hand-made cases with
    // them, as a run over a real extract would.
    for row in population.registry.rows() {
        registry.push(row.id.clone(), row.values.clone()).unwrap();
    }
    for row in population.records.rows() {
        records.push(row.id.clone(), row.values.clone()).unwrap();
    }
    let some = |s: &str| Some(s.to_owned());
    registry
        .push(
            "wang-a".into(),
            vec![
                some("王建华"),
                some("1971-04-09"),
                some("13512345678"),
                some("成都市金牛区一环路88号3栋2单元"),
            ],
        )
        .unwrap();
    registry
        .push(
            "wang-b".into(),
            vec![
                some("王建华"),
                some("1988-11-23"),
                some("13987654321"),
                some("成都市郫都区府河路5号9栋1单元"),
            ],
        )
        .unwrap();
    records
        .push(
            "wang-a-swapped".into(),
            vec![
                some("王建华"),
                some("1971-09-04"),
                some("13512345678"),
                some("成都市金牛区一环路88号3栋2单元"),
            ],
        )
        .unwrap();

    let run = link(&config, &registry, &records).unwrap();
    let decision = |l: &str, r: &str| {
        run.pairs
            .iter()
            .find(|p| p.left_id == l && p.right_id == r)
            .map(|p| p.decision)
    };
    assert_eq!(decision("wang-a", "wang-a-swapped"), Some(Decision::Link));
    assert_ne!(decision("wang-b", "wang-a-swapped"), Some(Decision::Link));
    let evidence = &run
        .pairs
        .iter()
        .find(|p| p.left_id == "wang-a")
        .unwrap()
        .evidence;
    assert_eq!(evidence[1].outcome, Outcome::Level(Level::MonthDaySwapped));
}
