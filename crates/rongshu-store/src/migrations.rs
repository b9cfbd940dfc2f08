//! Versioned, forward-only schema migrations. Each is applied once, in its own
//! transaction; a database that is ahead of this binary is refused rather than
//! guessed at.

use chrono::Utc;
use sqlx::{AssertSqlSafe, Row};

use crate::db::{Backend, quote_ident, ts};
use crate::{Store, StoreError};

struct Migration {
    version: i64,
    name: &'static str,
    /// Portable statements; `{id}` becomes the backend's identity column.
    statements: &'static [&'static str],
    sqlite_only: &'static [&'static str],
    postgres_only: &'static [&'static str],
    /// Run after the statements, in the same transaction.
    backfill: Option<Backfill>,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "foundation",
        statements: &[
            "CREATE TABLE departments (
            id {id},
            code TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            parent_id BIGINT REFERENCES departments(id),
            created_at TEXT NOT NULL)",
            "CREATE TABLE users (
            id {id},
            username TEXT NOT NULL UNIQUE,
            department_id BIGINT NOT NULL REFERENCES departments(id),
            password_hash TEXT,
            disabled BIGINT NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL)",
            "CREATE TABLE user_roles (
            user_id BIGINT NOT NULL REFERENCES users(id),
            role TEXT NOT NULL,
            PRIMARY KEY (user_id, role))",
            "CREATE TABLE applications (
            id {id},
            department_id BIGINT NOT NULL REFERENCES departments(id),
            name TEXT NOT NULL,
            created_at TEXT NOT NULL,
            UNIQUE (department_id, name))",
            "CREATE TABLE api_tokens (
            id {id},
            token_hash TEXT NOT NULL UNIQUE,
            user_id BIGINT REFERENCES users(id),
            application_id BIGINT REFERENCES applications(id),
            label TEXT NOT NULL,
            created_at TEXT NOT NULL,
            expires_at TEXT,
            revoked_at TEXT)",
            "CREATE TABLE sessions (
            id {id},
            token_hash TEXT NOT NULL UNIQUE,
            user_id BIGINT NOT NULL REFERENCES users(id),
            csrf_token TEXT NOT NULL,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL)",
            "CREATE TABLE login_failures (
            id {id},
            username TEXT NOT NULL,
            at TEXT NOT NULL)",
            "CREATE INDEX login_failures_by_user ON login_failures (username, at)",
            "CREATE TABLE resources (
            id {id},
            code TEXT NOT NULL UNIQUE,
            department_id BIGINT NOT NULL REFERENCES departments(id),
            name TEXT NOT NULL,
            summary TEXT NOT NULL,
            share_type TEXT NOT NULL,
            update_cycle TEXT NOT NULL,
            spec TEXT NOT NULL,
            table_name TEXT NOT NULL,
            row_count BIGINT NOT NULL DEFAULT 0,
            status TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL)",
            "CREATE TABLE batches (
            id {id},
            public_id TEXT NOT NULL UNIQUE,
            resource_id BIGINT NOT NULL REFERENCES resources(id),
            state TEXT NOT NULL,
            submitted_by TEXT NOT NULL,
            rows_read BIGINT NOT NULL DEFAULT 0,
            rows_loaded BIGINT NOT NULL DEFAULT 0,
            rows_rejected BIGINT NOT NULL DEFAULT 0,
            report TEXT,
            started_at TEXT NOT NULL,
            finished_at TEXT)",
            "CREATE TABLE audit_events (
            seq BIGINT PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            department TEXT,
            action TEXT NOT NULL,
            target TEXT,
            resource TEXT,
            row_count BIGINT,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL,
            canonical TEXT NOT NULL)",
            "CREATE INDEX audit_events_by_resource ON audit_events (resource, seq)",
            "CREATE TABLE audit_head (
            id BIGINT PRIMARY KEY,
            seq BIGINT NOT NULL,
            hash TEXT NOT NULL)",
            "INSERT INTO audit_head (id, seq, hash)
            VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000')",
        ],
        // Audit events are append-only: the database itself refuses to change them.
        sqlite_only: &[
            "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
            BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END",
            "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
            BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END",
        ],
        postgres_only: &[
            "CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS
            $$ BEGIN RAISE EXCEPTION 'audit events are append-only'; END $$",
            "CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events
            FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()",
        ],
        backfill: None,
    },
    Migration {
        version: 2,
        name: "catalog lifecycle, history, demands",
        statements: &[
            "ALTER TABLE resources ADD COLUMN classification TEXT NOT NULL DEFAULT ''",
            "ALTER TABLE resources ADD COLUMN version BIGINT NOT NULL DEFAULT 1",
            "ALTER TABLE resources ADD COLUMN published_version BIGINT",
            "ALTER TABLE resources ADD COLUMN working_version BIGINT",
            "ALTER TABLE resources ADD COLUMN publish_date TEXT",
            "CREATE TABLE resource_versions (
                resource_id BIGINT NOT NULL REFERENCES resources(id),
                version BIGINT NOT NULL,
                state TEXT NOT NULL,
                spec TEXT NOT NULL,
                created_at TEXT NOT NULL,
                created_by TEXT NOT NULL,
                reviewed_by TEXT,
                review_comment TEXT,
                PRIMARY KEY (resource_id, version))",
            "CREATE TABLE resource_history (
                id {id},
                resource_id BIGINT NOT NULL REFERENCES resources(id),
                at TEXT NOT NULL,
                actor TEXT NOT NULL,
                action TEXT NOT NULL,
                version BIGINT NOT NULL,
                comment TEXT,
                changes TEXT NOT NULL)",
            "CREATE INDEX resource_history_by_resource ON resource_history (resource_id, id)",
            "CREATE TABLE catalog_changes (
                seq {id},
                resource_id BIGINT NOT NULL REFERENCES resources(id),
                at TEXT NOT NULL)",
            "CREATE TABLE code_sequences (
                prefix TEXT PRIMARY KEY,
                next_value BIGINT NOT NULL)",
            "CREATE TABLE demands (
                id {id},
                requester_id BIGINT NOT NULL REFERENCES departments(id),
                created_by TEXT NOT NULL,
                title TEXT NOT NULL,
                description TEXT NOT NULL,
                items TEXT NOT NULL,
                reason TEXT NOT NULL,
                state TEXT NOT NULL,
                routed_to BIGINT REFERENCES departments(id),
                answer TEXT,
                resource_code TEXT,
                promised_date TEXT,
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL)",
            "CREATE TABLE demand_events (
                id {id},
                demand_id BIGINT NOT NULL REFERENCES demands(id),
                at TEXT NOT NULL,
                actor TEXT NOT NULL,
                action TEXT NOT NULL,
                detail TEXT NOT NULL)",
        ],
        sqlite_only: &[],
        postgres_only: &[],
        backfill: None,
    },
    Migration {
        version: 3,
        name: "change log",
        statements: &[
            "ALTER TABLE resources ADD COLUMN change_seq BIGINT NOT NULL DEFAULT 0",
            "ALTER TABLE batches ADD COLUMN mode TEXT NOT NULL DEFAULT 'upsert'",
            "ALTER TABLE batches ADD COLUMN first_seq BIGINT",
            "ALTER TABLE batches ADD COLUMN last_seq BIGINT",
            "CREATE TABLE change_log (
                resource_id BIGINT NOT NULL REFERENCES resources(id),
                seq BIGINT NOT NULL,
                batch_id BIGINT NOT NULL REFERENCES batches(id),
                op TEXT NOT NULL,
                row_key TEXT NOT NULL,
                record TEXT,
                PRIMARY KEY (resource_id, seq))",
        ],
        sqlite_only: &[],
        postgres_only: &[],
        backfill: None,
    },
    Migration {
        version: 4,
        name: "quality rules",
        statements: &["ALTER TABLE resources ADD COLUMN quality_rules TEXT NOT NULL DEFAULT '[]'"],
        sqlite_only: &[],
        postgres_only: &[],
        backfill: None,
    },
    Migration {
        version: 5,
        name: "batch failures",
        statements: &["CREATE TABLE batch_failures (
                batch_id BIGINT NOT NULL REFERENCES batches(id),
                n BIGINT NOT NULL,
                row_number BIGINT NOT NULL,
                row_key TEXT,
                item TEXT,
                value TEXT,
                rule TEXT NOT NULL,
                severity TEXT NOT NULL,
                reason TEXT NOT NULL,
                PRIMARY KEY (batch_id, n))"],
        sqlite_only: &[],
        postgres_only: &[],
        backfill: None,
    },
    Migration {
        version: 6,
        name: "staged batches",
        statements: &[
            "ALTER TABLE batches ADD COLUMN heartbeat_at TEXT",
            // Batches left loading by an older binary had no heartbeat; they are dead.
            "UPDATE batches SET state = 'failed' WHERE state = 'loading'",
            // One batch loads into a resource at a time: its staged comparison
            // with the resource's rows must still hold when it is applied.
            "CREATE UNIQUE INDEX batches_one_loading ON batches (resource_id) WHERE state = 'loading'",
        ],
        sqlite_only: &[],
        postgres_only: &[],
        backfill: None,
    },
    Migration {
        version: 7,
        name: "data elements",
        statements: &[
            "CREATE TABLE data_elements (
                id {id},
                code TEXT NOT NULL UNIQUE,
                name TEXT NOT NULL,
                name_en TEXT,
                description TEXT NOT NULL,
                authority_id BIGINT NOT NULL REFERENCES departments(id),
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL)",
            "CREATE TABLE data_element_history (
                id {id},
                element_id BIGINT NOT NULL REFERENCES data_elements(id),
                at TEXT NOT NULL,
                actor TEXT NOT NULL,
                action TEXT NOT NULL,
                changes TEXT NOT NULL)",
            "CREATE INDEX data_element_history_by_element ON data_element_history (element_id, id)",
            // Which item of which resource carries which element, as the
            // resource's current declaration says: kept with `resources.spec`,
            // so an element's sources are one indexed lookup. Element codes are
            // not a foreign key: items named elements before the registry existed.
            "CREATE TABLE resource_item_elements (
                resource_id BIGINT NOT NULL REFERENCES resources(id),
                item_key TEXT NOT NULL,
                element_code TEXT NOT NULL,
                PRIMARY KEY (resource_id, item_key))",
            "CREATE INDEX resource_item_elements_by_element ON resource_item_elements (element_code, resource_id)",
        ],
        // Items that already name an element are indexed from their declarations.
        sqlite_only: &["INSERT INTO resource_item_elements (resource_id, item_key, element_code)
                SELECT r.id, json_extract(i.value, '$.key'), json_extract(i.value, '$.element')
                FROM resources r, json_each(r.spec, '$.items') i
                WHERE json_extract(i.value, '$.element') IS NOT NULL"],
        postgres_only: &["INSERT INTO resource_item_elements (resource_id, item_key, element_code)
                SELECT r.id, i ->> 'key', i ->> 'element'
                FROM resources r CROSS JOIN LATERAL jsonb_array_elements(CAST(r.spec AS jsonb) -> 'items') AS i
                WHERE i ->> 'element' IS NOT NULL"],
        backfill: None,
    },
    Migration {
        version: 8,
        name: "share requests and grants",
        statements: &[
            // The office's list of exceptions to "weekends off": holidays on
            // weekdays and make-up working days (调休) on weekends.
            "CREATE TABLE holidays (
                date TEXT PRIMARY KEY,
                kind TEXT NOT NULL,
                name TEXT NOT NULL)",
            "CREATE TABLE share_requests (
                id {id},
                public_id TEXT NOT NULL UNIQUE,
                resource_id BIGINT NOT NULL REFERENCES resources(id),
                consumer_id BIGINT NOT NULL REFERENCES departments(id),
                application_id BIGINT NOT NULL REFERENCES applications(id),
                items TEXT NOT NULL,
                purpose TEXT NOT NULL,
                purpose_text TEXT NOT NULL,
                legal_basis TEXT NOT NULL,
                row_scope TEXT NOT NULL,
                duration_days BIGINT NOT NULL,
                plain_wanted BIGINT NOT NULL,
                state TEXT NOT NULL,
                submitted_by TEXT NOT NULL,
                submitted_at TEXT NOT NULL,
                due_at TEXT NOT NULL,
                decided_at TEXT,
                decided_by TEXT,
                reason TEXT)",
            "CREATE INDEX share_requests_by_consumer ON share_requests (consumer_id, id)",
            "CREATE INDEX share_requests_by_resource ON share_requests (resource_id, id)",
            "CREATE INDEX share_requests_open ON share_requests (state, due_at)",
            "CREATE TABLE share_request_events (
                id {id},
                request_id BIGINT NOT NULL REFERENCES share_requests(id),
                at TEXT NOT NULL,
                actor TEXT NOT NULL,
                kind TEXT NOT NULL,
                text TEXT NOT NULL)",
            "CREATE INDEX share_request_events_by_request ON share_request_events (request_id, id)",
            "CREATE TABLE grants (
                id {id},
                request_id BIGINT UNIQUE REFERENCES share_requests(id),
                resource_id BIGINT NOT NULL REFERENCES resources(id),
                application_id BIGINT NOT NULL REFERENCES applications(id),
                consumer_id BIGINT NOT NULL REFERENCES departments(id),
                items TEXT NOT NULL,
                row_scope TEXT NOT NULL,
                purpose TEXT NOT NULL,
                plain_allowed BIGINT NOT NULL,
                starts_at TEXT NOT NULL,
                expires_at TEXT NOT NULL,
                revoked_at TEXT,
                revoked_by TEXT,
                reason TEXT)",
            // Every data read looks for the caller's grants on a resource.
            "CREATE INDEX grants_by_reader ON grants (resource_id, consumer_id, application_id)",
        ],
        sqlite_only: &[],
        postgres_only: &[],
        backfill: None,
    },
    Migration {
        version: 9,
        name: "webhook subscriptions",
        statements: &[
            // `secret` is kept as given out: the server must sign with it.
            // `locked_until`/`lock_token` let one process at a time deliver a
            // subscription; `epoch` moves on a replay, so a delivery in flight
            // across a replay does not move the rewound position forward.
            "CREATE TABLE subscriptions (
                id {id},
                department_id BIGINT NOT NULL REFERENCES departments(id),
                resource_id BIGINT NOT NULL REFERENCES resources(id),
                url TEXT NOT NULL,
                secret TEXT NOT NULL,
                state TEXT NOT NULL,
                delivered_seq BIGINT NOT NULL,
                epoch BIGINT NOT NULL DEFAULT 0,
                failures BIGINT NOT NULL DEFAULT 0,
                next_attempt_at TEXT,
                locked_until TEXT,
                lock_token TEXT,
                last_attempt_at TEXT,
                last_status BIGINT,
                last_error TEXT,
                last_success_at TEXT,
                created_by TEXT NOT NULL,
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL)",
            "CREATE INDEX subscriptions_by_state ON subscriptions (state, next_attempt_at)",
            "CREATE INDEX subscriptions_by_department ON subscriptions (department_id, id)",
            "CREATE TABLE subscription_deliveries (
                id {id},
                subscription_id BIGINT NOT NULL REFERENCES subscriptions(id),
                at TEXT NOT NULL,
                from_seq BIGINT NOT NULL,
                to_seq BIGINT NOT NULL,
                status BIGINT,
                error TEXT,
                duration_ms BIGINT NOT NULL,
                ok BIGINT NOT NULL)",
            "CREATE INDEX subscription_deliveries_by_subscription ON subscription_deliveries (subscription_id, id)",
            // Keys the platform makes for itself (e.g. for key pseudonyms in feeds).
            "CREATE TABLE platform_secrets (
                name TEXT PRIMARY KEY,
                value TEXT NOT NULL,
                created_at TEXT NOT NULL)",
        ],
        sqlite_only: &[],
        postgres_only: &[],
        backfill: None,
    },
    Migration {
        version: 10,
        name: "data as of a batch",
        // A row's versions side by side, for rebuilding the data as of a batch.
        statements: &["CREATE INDEX change_log_by_key ON change_log (resource_id, row_key, seq)"],
        sqlite_only: &[],
        postgres_only: &[],
        backfill: None,
    },
    Migration {
        version: 11,
        name: "citizen transparency",
        statements: &[
            // The people each audited read touched, by the keyed hash of their
            // ID number (never the number): the key leads, so one person's
            // reads are one index range, newest last. Written with the event.
            // `seq` is not a foreign key: the table is an index of the chain
            // (listing joins the events), and a reference would cost a lookup
            // per person on every read for no check the chain does not make.
            "CREATE TABLE audit_people (
                person_hash TEXT NOT NULL,
                seq BIGINT NOT NULL,
                PRIMARY KEY (person_hash, seq))",
            // One-time sign-in codes, kept as salted hashes; the newest unused
            // one of a person is the only one that counts.
            "CREATE TABLE citizen_codes (
                id {id},
                person_hash TEXT NOT NULL,
                salt TEXT NOT NULL,
                code_hash TEXT NOT NULL,
                created_at TEXT NOT NULL,
                expires_at TEXT NOT NULL,
                attempts BIGINT NOT NULL DEFAULT 0,
                used_at TEXT)",
            "CREATE INDEX citizen_codes_by_person ON citizen_codes (person_hash, id)",
            // Citizens' web sessions: a table of their own, so a staff session
            // can never be taken for a citizen's or the other way round.
            "CREATE TABLE citizen_sessions (
                id {id},
                token_hash TEXT NOT NULL UNIQUE,
                person_hash TEXT NOT NULL,
                csrf_token TEXT NOT NULL,
                created_at TEXT NOT NULL,
                expires_at TEXT NOT NULL)",
        ],
        // The side table is part of the audit record: append-only like the events.
        sqlite_only: &[
            "CREATE TRIGGER audit_people_no_update BEFORE UPDATE ON audit_people
            BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END",
            "CREATE TRIGGER audit_people_no_delete BEFORE DELETE ON audit_people
            BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END",
        ],
        postgres_only: &[
            "CREATE TRIGGER audit_people_no_change BEFORE UPDATE OR DELETE ON audit_people
            FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()",
        ],
        backfill: None,
    },
    Migration {
        version: 12,
        name: "application keys and overdue follow-up",
        statements: &[
            // `allowed_ips` is a JSON list of canonical CIDR blocks (empty: any
            // address); `rate_limit` is requests a minute (NULL: the platform's
            // default). `policy_version` moves on every change, so each server
            // process knows when its cached copy of the policy is stale.
            "ALTER TABLE applications ADD COLUMN description TEXT NOT NULL DEFAULT ''",
            "ALTER TABLE applications ADD COLUMN allowed_ips TEXT NOT NULL DEFAULT '[]'",
            "ALTER TABLE applications ADD COLUMN rate_limit BIGINT",
            "ALTER TABLE applications ADD COLUMN disabled_at TEXT",
            "ALTER TABLE applications ADD COLUMN policy_version BIGINT NOT NULL DEFAULT 0",
            // `prefix` is the key's first characters, for recognising it in a
            // list (not enough to use it); a rotated key points at the key
            // that replaced it, and its grace period is its `expires_at`.
            "ALTER TABLE api_tokens ADD COLUMN prefix TEXT",
            "ALTER TABLE api_tokens ADD COLUMN last_used_at TEXT",
            "ALTER TABLE api_tokens ADD COLUMN rotated_at TEXT",
            "ALTER TABLE api_tokens ADD COLUMN replaced_by BIGINT REFERENCES api_tokens(id)",
            "CREATE INDEX api_tokens_by_application ON api_tokens (application_id, id)",
            // The overdue sweep: when the office was called in, and the Chengdu
            // date of the last reminder (at most one a working day).
            "ALTER TABLE share_requests ADD COLUMN escalated_at TEXT",
            "ALTER TABLE share_requests ADD COLUMN last_reminded_on TEXT",
            "CREATE INDEX share_requests_escalated ON share_requests (escalated_at)",
        ],
        sqlite_only: &[],
        postgres_only: &[],
        backfill: None,
    },
    Migration {
        version: 13,
        name: "exact row counts",
        // Each batch now moves `resources.row_count` by the rows it inserted
        // and deleted, in its own transaction, instead of counting the table:
        // an unfiltered total is then one row read. The count it starts from
        // is made exact here, by counting each resource's table once.
        statements: &[],
        sqlite_only: &[],
        postgres_only: &[],
        backfill: Some(Backfill::RowCounts),
    },
    Migration {
        version: 14,
        name: "open data releases",
        statements: &[
            // A view of a resource opened to the public; the view, the scan
            // and the treatments are JSON the domain model reads back.
            "CREATE TABLE open_releases (
            id {id},
            name TEXT NOT NULL UNIQUE,
            resource_id BIGINT NOT NULL REFERENCES resources(id),
            title TEXT NOT NULL,
            description TEXT NOT NULL,
            open_type TEXT NOT NULL,
            open_condition TEXT,
            license TEXT NOT NULL,
            view TEXT NOT NULL,
            scan TEXT NOT NULL,
            treatments TEXT NOT NULL,
            state TEXT NOT NULL,
            proposed_by TEXT NOT NULL,
            proposed_at TEXT NOT NULL,
            reviewed_by TEXT,
            published_at TEXT,
            withdrawn_by TEXT,
            withdrawn_at TEXT,
            updated_at TEXT NOT NULL)",
            "CREATE INDEX open_releases_state ON open_releases (state)",
            "CREATE INDEX open_releases_resource ON open_releases (resource_id)",
            // Every change, in order: what each process's open-data index follows.
            "CREATE TABLE open_release_changes (
            seq {id},
            release_id BIGINT NOT NULL REFERENCES open_releases(id),
            at TEXT NOT NULL)",
        ],
        sqlite_only: &[],
        postgres_only: &[],
        backfill: None,
    },
    Migration {
        version: 15,
        name: "open data download counts",
        statements: &[
            // One counter per release, format and day (UTC), moved by one
            // upsert per download: the table grows by days, not by downloads.
            "CREATE TABLE open_downloads (
            release_id BIGINT NOT NULL REFERENCES open_releases(id),
            format TEXT NOT NULL,
            day TEXT NOT NULL,
            count BIGINT NOT NULL,
            PRIMARY KEY (release_id, format, day))",
        ],
        sqlite_only: &[],
        postgres_only: &[],
        backfill: None,
    },
    Migration {
        version: 16,
        name: "base registries and correction tickets",
        statements: &[
            // Every delivered value of a registry element, in step with its
            // resource's table (one row per resource row and element).
            "CREATE TABLE registry_observations (
            resource_id BIGINT NOT NULL,
            row_key TEXT NOT NULL,
            element TEXT NOT NULL,
            subject_kind TEXT NOT NULL,
            subject_key TEXT NOT NULL,
            department TEXT NOT NULL,
            item TEXT NOT NULL,
            batch_id BIGINT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (resource_id, row_key, element))",
            "CREATE INDEX registry_observations_subject ON registry_observations (subject_kind, subject_key)",
            "CREATE INDEX registry_observations_value ON registry_observations (element, value)",
            // What each feeding resource looked like when its observations
            // were last brought up to date (its newest batch, its items).
            "CREATE TABLE registry_feeds (
            resource_id BIGINT PRIMARY KEY,
            signature TEXT NOT NULL,
            refreshed_at TEXT NOT NULL)",
            // Each subject's digest of what its verification read.
            "CREATE TABLE registry_subjects (
            subject_kind TEXT NOT NULL,
            subject_key TEXT NOT NULL,
            digest TEXT NOT NULL,
            org_code TEXT,
            verified_at TEXT NOT NULL,
            PRIMARY KEY (subject_kind, subject_key))",
            "CREATE INDEX registry_subjects_org_code ON registry_subjects (org_code)",
            // The golden values of record, with provenance.
            "CREATE TABLE registry_values (
            subject_kind TEXT NOT NULL,
            subject_key TEXT NOT NULL,
            element TEXT NOT NULL,
            value TEXT NOT NULL,
            department TEXT NOT NULL,
            resource_id BIGINT NOT NULL,
            item TEXT,
            row_key TEXT NOT NULL,
            batch_id BIGINT NOT NULL,
            valid_from TEXT NOT NULL,
            PRIMARY KEY (subject_kind, subject_key, element))",
            "CREATE TABLE registry_value_history (
            id {id},
            subject_kind TEXT NOT NULL,
            subject_key TEXT NOT NULL,
            element TEXT NOT NULL,
            value TEXT NOT NULL,
            resource_id BIGINT NOT NULL,
            row_key TEXT NOT NULL,
            batch_id BIGINT NOT NULL,
            valid_from TEXT NOT NULL,
            valid_to TEXT NOT NULL)",
            "CREATE INDEX registry_value_history_subject ON registry_value_history (subject_kind, subject_key)",
            "CREATE TABLE correction_tickets (
            id {id},
            subject_kind TEXT NOT NULL,
            subject_key TEXT NOT NULL,
            element TEXT NOT NULL,
            kind TEXT NOT NULL,
            department TEXT NOT NULL,
            state TEXT NOT NULL,
            evidence TEXT NOT NULL,
            conflict_key TEXT NOT NULL,
            record_value TEXT NOT NULL,
            other_values TEXT NOT NULL,
            due TEXT NOT NULL,
            outcome TEXT,
            note TEXT,
            answered_by TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            closed_at TEXT)",
            // One worklist per department, filtered by state.
            "CREATE INDEX correction_tickets_worklist ON correction_tickets (department, state, id)",
            "CREATE INDEX correction_tickets_state ON correction_tickets (state, element, id)",
            "CREATE INDEX correction_tickets_subject ON correction_tickets (subject_kind, subject_key)",
            "CREATE INDEX correction_tickets_conflict ON correction_tickets (conflict_key)",
        ],
        sqlite_only: &[],
        postgres_only: &[],
        backfill: None,
    },
    Migration {
        version: 17,
        name: "record linkage jobs and clerical review",
        statements: &[
            // A job: its configuration as submitted, its state and, once done,
            // its figures (JSON the API returns as it is).
            "CREATE TABLE linkage_jobs (
            id {id},
            created_by TEXT NOT NULL,
            department TEXT NOT NULL,
            left_resource TEXT NOT NULL,
            right_resource TEXT NOT NULL,
            config TEXT NOT NULL,
            state TEXT NOT NULL,
            error TEXT,
            figures TEXT,
            created_at TEXT NOT NULL,
            started_at TEXT,
            finished_at TEXT)",
            "CREATE INDEX linkage_jobs_department ON linkage_jobs (department, id)",
            // Every scored pair, numbered best score first, with the evidence
            // per compared column (values, level found, weight) as JSON.
            "CREATE TABLE linkage_pairs (
            job_id BIGINT NOT NULL REFERENCES linkage_jobs(id),
            pair_no BIGINT NOT NULL,
            left_id TEXT NOT NULL,
            right_id TEXT NOT NULL,
            weight DOUBLE PRECISION NOT NULL,
            probability DOUBLE PRECISION NOT NULL,
            class TEXT NOT NULL,
            evidence TEXT NOT NULL,
            PRIMARY KEY (job_id, pair_no))",
            "CREATE INDEX linkage_pairs_class ON linkage_pairs (job_id, class, pair_no)",
            // A reviewer's decision on an uncertain pair: once, with who and when.
            "CREATE TABLE linkage_decisions (
            job_id BIGINT NOT NULL,
            pair_no BIGINT NOT NULL,
            decision TEXT NOT NULL,
            reviewer TEXT NOT NULL,
            decided_at TEXT NOT NULL,
            note TEXT,
            PRIMARY KEY (job_id, pair_no),
            FOREIGN KEY (job_id, pair_no) REFERENCES linkage_pairs(job_id, pair_no))",
        ],
        sqlite_only: &[],
        postgres_only: &[],
        backfill: None,
    },
    Migration {
        version: 18,
        name: "open data views and public data requests",
        statements: &[
            // One counter per release and day (UTC), like `open_downloads`:
            // each view of a dataset's portal page moves it by one.
            "CREATE TABLE open_views (
            release_id BIGINT NOT NULL REFERENCES open_releases(id),
            day TEXT NOT NULL,
            count BIGINT NOT NULL,
            PRIMARY KEY (release_id, day))",
        ],
        // A demand may now come from the public through the portal (数据需求):
        // no requesting department, the requester's own optional particulars.
        // SQLite cannot drop a NOT NULL, so its two tables are rebuilt (the
        // child moved aside first, so no foreign key is ever broken).
        sqlite_only: &[
            "ALTER TABLE demand_events RENAME TO demand_events_old",
            "ALTER TABLE demands RENAME TO demands_old",
            "CREATE TABLE demands (
                id {id},
                requester_id BIGINT REFERENCES departments(id),
                created_by TEXT NOT NULL,
                title TEXT NOT NULL,
                description TEXT NOT NULL,
                items TEXT NOT NULL,
                reason TEXT NOT NULL,
                state TEXT NOT NULL,
                routed_to BIGINT REFERENCES departments(id),
                answer TEXT,
                resource_code TEXT,
                promised_date TEXT,
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL,
                channel TEXT NOT NULL DEFAULT 'share',
                public_name TEXT,
                public_contact TEXT,
                public_organisation TEXT)",
            "CREATE TABLE demand_events (
                id {id},
                demand_id BIGINT NOT NULL REFERENCES demands(id),
                at TEXT NOT NULL,
                actor TEXT NOT NULL,
                action TEXT NOT NULL,
                detail TEXT NOT NULL)",
            "INSERT INTO demands (id, requester_id, created_by, title, description, items, reason,
                state, routed_to, answer, resource_code, promised_date, created_at, updated_at)
             SELECT id, requester_id, created_by, title, description, items, reason,
                state, routed_to, answer, resource_code, promised_date, created_at, updated_at
             FROM demands_old",
            "INSERT INTO demand_events (id, demand_id, at, actor, action, detail)
             SELECT id, demand_id, at, actor, action, detail FROM demand_events_old",
            "DROP TABLE demand_events_old",
            "DROP TABLE demands_old",
            "CREATE INDEX demands_channel ON demands (channel, id)",
        ],
        postgres_only: &[
            "ALTER TABLE demands ALTER COLUMN requester_id DROP NOT NULL",
            "ALTER TABLE demands ADD COLUMN channel TEXT NOT NULL DEFAULT 'share'",
            "ALTER TABLE demands ADD COLUMN public_name TEXT",
            "ALTER TABLE demands ADD COLUMN public_contact TEXT",
            "ALTER TABLE demands ADD COLUMN public_organisation TEXT",
            "CREATE INDEX demands_channel ON demands (channel, id)",
        ],
        backfill: None,
    },
    Migration {
        version: 19,
        name: "open data users, keys and terms",
        statements: &[
            // People and organisations who signed up on the portal: not staff,
            // so not in `users`. The e-mail is kept lower-cased.
            "CREATE TABLE open_users (
            id {id},
            email TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            organisation TEXT NOT NULL,
            password_hash TEXT NOT NULL,
            created_at TEXT NOT NULL,
            disabled_at TEXT)",
            // Open API keys, stored as hashes like every other credential.
            "CREATE TABLE open_keys (
            id {id},
            user_id BIGINT NOT NULL REFERENCES open_users(id),
            key_hash TEXT NOT NULL UNIQUE,
            prefix TEXT NOT NULL,
            label TEXT NOT NULL,
            created_at TEXT NOT NULL,
            revoked_at TEXT,
            revoked_by TEXT)",
            "CREATE INDEX open_keys_user ON open_keys (user_id)",
            // A registered user's request to use a conditional release: the
            // terms accepted, the purpose stated, the provider's decision.
            "CREATE TABLE open_access_requests (
            id {id},
            release_id BIGINT NOT NULL REFERENCES open_releases(id),
            user_id BIGINT NOT NULL REFERENCES open_users(id),
            purpose TEXT NOT NULL,
            terms_accepted_at TEXT NOT NULL,
            state TEXT NOT NULL,
            decided_by TEXT,
            decided_at TEXT,
            reason TEXT,
            created_at TEXT NOT NULL,
            UNIQUE (release_id, user_id))",
            "CREATE INDEX open_access_requests_state ON open_access_requests (release_id, state)",
            // Open API calls per release and day, like downloads.
            "CREATE TABLE open_api_calls (
            release_id BIGINT NOT NULL REFERENCES open_releases(id),
            day TEXT NOT NULL,
            count BIGINT NOT NULL,
            PRIMARY KEY (release_id, day))",
        ],
        sqlite_only: &[],
        postgres_only: &[],
        backfill: None,
    },
    Migration {
        version: 20,
        name: "annual open data plans",
        statements: &[
            // What a department will open in a year and by when; kept when
            // a release of the resource is published.
            "CREATE TABLE open_plan_entries (
            id {id},
            department_id BIGINT NOT NULL REFERENCES departments(id),
            year BIGINT NOT NULL,
            title TEXT NOT NULL,
            resource_id BIGINT NOT NULL REFERENCES resources(id),
            due TEXT NOT NULL,
            created_by TEXT NOT NULL,
            created_at TEXT NOT NULL)",
            "CREATE INDEX open_plan_year ON open_plan_entries (year, department_id)",
        ],
        sqlite_only: &[],
        postgres_only: &[],
        backfill: None,
    },
    Migration {
        version: 21,
        name: "change log without per-row reference checks on PostgreSQL",
        statements: &[],
        sqlite_only: &[],
        // PostgreSQL checks a foreign key with a trigger per inserted row: two
        // lookups for every logged change, which made logging a batch of a
        // million new rows take twice as long as writing the rows. The log is
        // written only by a batch's final step, with the resource and batch
        // it has just read in the same transaction, and neither resources nor
        // batches are ever deleted. (SQLite checks its keys by index, cheaply;
        // they stay.)
        postgres_only: &[
            "ALTER TABLE change_log DROP CONSTRAINT IF EXISTS change_log_resource_id_fkey",
            "ALTER TABLE change_log DROP CONSTRAINT IF EXISTS change_log_batch_id_fkey",
        ],
        backfill: None,
    },
    Migration {
        version: 22,
        name: "first loads logged by their rows",
        // A batch with this set logged its inserts by the rows it wrote: a
        // row of the resource still marked as that batch's is its insert,
        // logged under its row id (see `table_log`).
        statements: &["ALTER TABLE batches ADD COLUMN logged_in_table INTEGER NOT NULL DEFAULT 0"],
        sqlite_only: &[],
        postgres_only: &[],
        backfill: None,
    },
];

/// Work a migration does that plain SQL cannot say on both backends (SQLite
/// has no dynamic SQL to visit each resource's own table).
#[derive(Debug, Clone, Copy)]
enum Backfill {
    /// Set every resource's row count from its table.
    RowCounts,
}

impl Backfill {
    async fn run(self, tx: &mut sqlx::AnyConnection) -> Result<(), StoreError> {
        match self {
            Backfill::RowCounts => {
                let resources =
                    sqlx::query("SELECT id, table_name FROM resources WHERE table_name <> ''")
                        .fetch_all(&mut *tx)
                        .await?;
                for row in &resources {
                    let id: i64 = row.try_get("id")?;
                    let table: String = row.try_get("table_name")?;
                    // The name is the store's own (`res_<id>`), quoted anyway.
                    let sql = format!(
                        "UPDATE resources SET row_count = (SELECT COUNT(*) FROM {}) WHERE id = $1",
                        quote_ident(&table)
                    );
                    sqlx::query(AssertSqlSafe(sql))
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                }
                Ok(())
            }
        }
    }
}

/// The newest schema version this binary knows.
pub fn latest_version() -> i64 {
    // The highest, not the last listed: branches' migrations merge in any order.
    MIGRATIONS.iter().map(|m| m.version).max().unwrap_or(0)
}

pub(crate) async fn migrate(store: &Store) -> Result<(), StoreError> {
    let backend = store.backend;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version BIGINT PRIMARY KEY,
            name TEXT NOT NULL,
            applied_at TEXT NOT NULL)",
    )
    .execute(&store.pool)
    .await?;
    for migration in MIGRATIONS {
        let mut tx = store.begin_write().await?;
        // Take the write lock first, so two processes starting together apply
        // each migration once.
        match backend {
            Backend::Postgres => {
                sqlx::query("LOCK TABLE schema_migrations IN EXCLUSIVE MODE")
                    .execute(&mut *tx)
                    .await?;
            }
            // BEGIN IMMEDIATE already holds SQLite's write lock.
            Backend::Sqlite => {}
        }
        let current: i64 =
            sqlx::query("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations")
                .fetch_one(&mut *tx)
                .await?
                .try_get("v")?;
        if current > latest_version() {
            return Err(StoreError::SchemaTooNew {
                database: current,
                binary: latest_version(),
            });
        }
        // Each migration is applied once, whatever else is there: branches
        // that each added one merge in any order.
        let applied = sqlx::query("SELECT 1 AS one FROM schema_migrations WHERE version = $1")
            .bind(migration.version)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if applied {
            // End the transaction now: a dropped one would hold the lock until
            // its connection is next used.
            tx.rollback().await?;
            continue;
        }
        let specific = match backend {
            Backend::Sqlite => migration.sqlite_only,
            Backend::Postgres => migration.postgres_only,
        };
        for statement in migration.statements.iter().chain(specific) {
            let sql = statement.replace("{id}", backend.id_column());
            sqlx::query(AssertSqlSafe(sql)).execute(&mut *tx).await?;
        }
        if let Some(backfill) = migration.backfill {
            backfill.run(&mut tx).await?;
        }
        sqlx::query(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
        )
        .bind(migration.version)
        .bind(migration.name)
        .bind(ts(Utc::now()))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        tracing::info!(
            version = migration.version,
            name = migration.name,
            "applied migration"
        );
    }
    // A database that is ahead must be refused even when it has nothing to apply.
    let current = store.schema_version().await?;
    if current > latest_version() {
        return Err(StoreError::SchemaTooNew {
            database: current,
            binary: latest_version(),
        });
    }
    Ok(())
}

impl Store {
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations")
                .fetch_one(&self.pool)
                .await?
                .try_get("v")?,
        )
    }
}
