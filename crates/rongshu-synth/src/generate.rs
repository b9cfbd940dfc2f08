//! One pass over the city: households are generated in order, each person is written
//! to `people.csv` and to the extracts of every department that knows them, and legal
//! entities are written as their representatives come by. Memory stays bounded by the
//! ID-number counters, not by the number of people.

use std::collections::VecDeque;
use std::path::Path;

use chrono::{Datelike, Duration, NaiveDate};

use crate::config::{FaultKind, SynthConfig};
use crate::csvfile::CsvFile;
use crate::dice::{Dice, Stream};
use crate::divisions::{COUNTIES, Divisions};
use crate::entities::{EntityBook, EntityCore, industry_name};
use crate::faults::{Extract, Row, Truth};
use crate::names::NameBook;
use crate::people::{PeopleStream, Person, Relation, snapshot};
use crate::rows::{self, Entity};
use crate::spec::{DEPARTMENTS, dept};
use crate::{FileInfo, Manifest, SynthError};

pub(crate) const PEOPLE_COLUMNS: [&str; 15] = [
    "id_number",
    "name",
    "sex",
    "birth_date",
    "ethnicity",
    "household_no",
    "relation_to_head",
    "marital_status",
    "spouse_id_number",
    "county_code",
    "township_code",
    "address",
    "phone",
    "death_date",
    "person_no",
];

pub(crate) const ENTITY_COLUMNS: [&str; 16] = [
    "uscc",
    "uscc_legacy_pilot",
    "name",
    "entity_type",
    "legal_rep_id_number",
    "legal_rep_name",
    "registered_capital",
    "industry_code",
    "industry_name",
    "founding_date",
    "status",
    "county_code",
    "township_code",
    "address",
    "entity_no",
    "legal_rep_deceased",
];

/// Writes the whole synthetic city under `out_dir`.
pub fn generate(config: &SynthConfig, out_dir: &Path) -> Result<Manifest, SynthError> {
    config.validate()?;
    for dir in [
        out_dir.to_path_buf(),
        out_dir.join("extracts"),
        out_dir.join("truth"),
    ] {
        std::fs::create_dir_all(&dir).map_err(|source| SynthError::Io { path: dir, source })?;
    }
    let divisions = Divisions::load()?;
    let names = NameBook::new();
    let book = EntityBook::new(config.seed, config.faults.legacy_pilot_code);
    let mut city = City {
        config,
        divisions: &divisions,
        book: &book,
        people: CsvFile::create(out_dir, "people.csv", &PEOPLE_COLUMNS)?,
        entities: CsvFile::create(out_dir, "entities.csv", &ENTITY_COLUMNS)?,
        extracts: (0..DEPARTMENTS.len())
            .map(|i| Extract::create(out_dir, config.seed, i))
            .collect::<Result<_, _>>()?,
        truth: Truth::create(out_dir)?,
        dept_dice: (0..DEPARTMENTS.len() as u64)
            .map(|i| Dice::new(config.seed, Stream::Department(i)))
            .collect(),
        employment_dice: Dice::new(config.seed, Stream::Department(100)),
        reps: Representatives::new(config),
    };

    let mut stream = PeopleStream::new(config.seed, config.people, &divisions, &names);
    while let Some(household) = stream.next_household() {
        city.household(&household)?;
    }
    city.finish_entities()?;
    city.finish(out_dir)
}

/// Entities waiting for a legal representative: entity `n` takes the first suitable adult
/// at or after person `n * people / entities`, which spreads them over the city.
struct Representatives {
    next: u64,
    total: u64,
    people: u64,
    want_alive: VecDeque<EntityCore>,
    want_dead: VecDeque<EntityCore>,
    dice: Dice,
    rate: f64,
    last_alive: Option<Person>,
    last_dead: Option<Person>,
}

impl Representatives {
    fn new(config: &SynthConfig) -> Self {
        Self {
            next: 0,
            total: config.entities,
            people: config.people.max(1),
            want_alive: VecDeque::new(),
            want_dead: VecDeque::new(),
            dice: Dice::new(config.seed, Stream::Faults(99)),
            rate: config.faults.dead_legal_rep,
            last_alive: None,
            last_dead: None,
        }
    }

    fn target(&self, n: u64) -> u64 {
        (u128::from(n) * u128::from(self.people) / u128::from(self.total.max(1))) as u64
    }

    /// Queues the entities whose turn has come by person `index`.
    fn enqueue(&mut self, index: u64, book: &EntityBook, divisions: &Divisions) {
        while self.next < self.total && self.target(self.next) <= index {
            let core = book.core(divisions, self.next);
            // Only market entities are checked against the register's representative.
            if core.kind.is_market() && self.dice.chance(self.rate) {
                self.want_dead.push_back(core);
            } else {
                self.want_alive.push_back(core);
            }
            self.next += 1;
        }
    }
}

fn can_represent(p: &Person) -> bool {
    (1940..=1996).contains(&p.birth.year())
}

struct City<'a> {
    config: &'a SynthConfig,
    divisions: &'a Divisions,
    book: &'a EntityBook,
    people: CsvFile,
    entities: CsvFile,
    extracts: Vec<Extract>,
    truth: Truth,
    dept_dice: Vec<Dice>,
    employment_dice: Dice,
    reps: Representatives,
}

impl City<'_> {
    fn household(&mut self, members: &[Person]) -> Result<(), SynthError> {
        let mother = members
            .iter()
            .find(|m| !m.male && matches!(m.relation, Relation::Head | Relation::Spouse));
        let guardian = members.first();
        for p in members {
            self.person(p, mother, guardian)?;
            self.representatives(p)?;
        }
        Ok(())
    }

    fn emit(&mut self, d: usize, row: Row<'_>) -> Result<(), SynthError> {
        let ctx = (self.divisions, self.config.seed);
        match self.extracts.get_mut(d) {
            Some(extract) => extract.write(row, &self.config.faults, &mut self.truth, ctx),
            None => Ok(()),
        }
    }

    fn dice(&mut self, d: usize) -> &mut Dice {
        // Departments are fixed at compile time; the index is always in range.
        let last = self.dept_dice.len().saturating_sub(1);
        &mut self.dept_dice[d.min(last)]
    }

    fn person(
        &mut self,
        p: &Person,
        mother: Option<&Person>,
        guardian: Option<&Person>,
    ) -> Result<(), SynthError> {
        let township_code = self
            .divisions
            .township(p.county, p.township)
            .map_or("", |t| t.code.as_str())
            .to_string();
        self.people.write([
            p.id_number.as_str(),
            &p.name,
            p.sex_label(),
            &rows::iso(p.birth),
            p.ethnicity,
            &p.household_no(),
            p.relation.label(),
            p.marital.label(),
            p.spouse.as_ref().map_or("", |s| s.0.as_str()),
            p.county_code(),
            &township_code,
            &p.address,
            p.phone.as_deref().unwrap_or(""),
            &p.death.map(rows::iso).unwrap_or_default(),
            &(p.index + 1).to_string(),
        ])?;

        let row = rows::public_security(p, self.divisions);
        self.emit(dept::GAJ, row)?;
        for row in rows::civil_affairs(p, self.dice(dept::MZJ)) {
            self.emit(dept::MZJ, row)?;
        }
        let job = rows::employment(
            p,
            self.book,
            self.divisions,
            self.config.entities,
            &mut self.employment_dice,
        );
        if let Some((employment, worker)) = &job {
            let row = rows::social_insurance(p, employment, *worker, self.dice(dept::RSJ));
            self.emit(dept::RSJ, row)?;
            let seed = self.config.seed;
            if let Some(row) = rows::housing_fund(p, employment, seed, self.dice(dept::GJJ)) {
                self.emit(dept::GJJ, row)?;
            }
        }
        let worker = job.as_ref().is_some_and(|(_, worker)| *worker);
        if let Some(row) = rows::medical_insurance(p, worker, self.dice(dept::YBJ)) {
            self.emit(dept::YBJ, row)?;
        }
        if let Some(row) = rows::disabled_persons(p, self.dice(dept::CL)) {
            self.emit(dept::CL, row)?;
        }
        let mother = mother.filter(|m| m.index != p.index && p.relation == Relation::Child);
        for row in rows::health(p, mother, self.dice(dept::WJW)) {
            self.emit(dept::WJW, row)?;
        }
        if let Some(row) = rows::telecom(p, self.dice(dept::TEL)) {
            self.emit(dept::TEL, row)?;
        }
        let guardian = guardian.filter(|g| g.index != p.index);
        if let Some(row) = rows::education(p, guardian, self.divisions, self.config.seed) {
            self.emit(dept::JYJ, row)?;
        }
        let (divisions, book, entities) = (self.divisions, self.book, self.config.entities);
        if let Some(row) = rows::housing(p, divisions, book, entities, self.dice(dept::ZJJ)) {
            self.emit(dept::ZJJ, row)?;
        }
        Ok(())
    }

    /// Hands the waiting entities to this person if they can represent them.
    fn representatives(&mut self, p: &Person) -> Result<(), SynthError> {
        self.reps.enqueue(p.index, self.book, self.divisions);
        if !can_represent(p) {
            return Ok(());
        }
        let queue = if p.death.is_some() {
            self.reps.last_dead = Some(p.clone());
            std::mem::take(&mut self.reps.want_dead)
        } else {
            self.reps.last_alive = Some(p.clone());
            std::mem::take(&mut self.reps.want_alive)
        };
        for core in queue {
            self.entity(core, Some(p))?;
        }
        Ok(())
    }

    /// Entities left when the people run out take the last suitable person seen.
    fn finish_entities(&mut self) -> Result<(), SynthError> {
        self.reps.enqueue(u64::MAX, self.book, self.divisions);
        let alive = self.reps.last_alive.take();
        let dead = self.reps.last_dead.take();
        for core in std::mem::take(&mut self.reps.want_alive) {
            self.entity(core, alive.as_ref())?;
        }
        for core in std::mem::take(&mut self.reps.want_dead) {
            self.entity(core, dead.as_ref().or(alive.as_ref()))?;
        }
        Ok(())
    }

    fn entity(&mut self, mut core: EntityCore, rep: Option<&Person>) -> Result<(), SynthError> {
        if let Some(rep) = rep {
            core.founded = founding_for(core.founded, rep);
            // The conflict worth finding is an entity still trading under a dead person.
            if rep.death.is_some() {
                core.status = "存续";
            }
        }
        let e = Entity {
            rep_name: rep.map(|r| r.name.clone()).unwrap_or_default(),
            rep_id: rep.map(|r| r.id_number.clone()).unwrap_or_default(),
            rep_death: rep.and_then(|r| r.death),
            core,
        };
        if e.rep_death.is_some() || e.core.kind.is_market() {
            self.truth.opportunity(FaultKind::DeadLegalRep);
        }
        let c = &e.core;
        self.entities.write([
            c.uscc.as_str(),
            if c.legacy_pilot { "true" } else { "false" },
            &c.name,
            c.kind.label(),
            &e.rep_id,
            &e.rep_name,
            &c.capital,
            &c.industry.to_string(),
            industry_name(c.industry),
            &rows::iso(c.founded),
            c.status,
            COUNTIES.get(c.county).map_or("", |k| k.code),
            self.divisions
                .township(c.county, c.township)
                .map_or("", |t| t.code.as_str()),
            &c.address,
            &(c.number + 1).to_string(),
            if e.rep_death.is_some() {
                "true"
            } else {
                "false"
            },
        ])?;
        if let Some(row) = rows::market_regulation(&e) {
            self.emit(dept::SCJGJ, row)?;
        }
        if let Some(row) = rows::tax(&e, self.dice(dept::SWJ)) {
            self.emit(dept::SWJ, row)?;
        }
        Ok(())
    }

    fn finish(self, out_dir: &Path) -> Result<Manifest, SynthError> {
        let fault_tallies = self.truth.tallies(&self.config.faults);
        let mut files: Vec<FileInfo> = vec![self.people.finish()?, self.entities.finish()?];
        let mut extracts = Vec::new();
        for extract in self.extracts {
            let dept = extract.dept;
            let info = extract.file.finish()?;
            extracts.push(dept.spec(info.rows));
            files.push(info);
        }
        files.push(self.truth.faults.finish()?);
        files.push(self.truth.keyless.finish()?);
        let manifest = Manifest {
            generator: concat!("rongshu-synth ", env!("CARGO_PKG_VERSION")).to_string(),
            seed: self.config.seed,
            people: self.config.people,
            entities: self.config.entities,
            snapshot_date: snapshot().format("%Y-%m-%d").to_string(),
            fault_rates: self.config.faults.clone(),
            rows_written: files.iter().map(|f| f.rows).sum(),
            files,
            extracts,
            faults: fault_tallies,
        };
        let path = out_dir.join("manifest.json");
        let json = serde_json::to_vec_pretty(&manifest)?;
        std::fs::write(&path, json).map_err(|source| SynthError::Io { path, source })?;
        Ok(manifest)
    }
}

/// A founding date the representative could have signed: at 18 or older, and alive.
/// Stays on the same side of 2015 so the USCC's form still fits the date.
fn founding_for(founded: NaiveDate, rep: &Person) -> NaiveDate {
    let adult = NaiveDate::from_ymd_opt(
        rep.birth.year() + 18,
        rep.birth.month(),
        rep.birth.day().min(28),
    )
    .unwrap_or(rep.birth);
    let mut day = founded.max(adult);
    if let Some(death) = rep.death
        && day >= death
    {
        let era_start = if founded.year() >= 2015 {
            NaiveDate::from_ymd_opt(2015, 1, 1).unwrap_or(founded)
        } else {
            adult
        };
        day = (death - Duration::days(30)).max(era_start).max(adult);
    }
    if founded.year() < 2015 {
        day = day.min(NaiveDate::from_ymd_opt(2014, 12, 31).unwrap_or(day));
    }
    day
}
