//! Anti-fraud early warning (反诈预警, DOMAIN.md §5): warnings from upstream anti-fraud centres,
//! banks and carriers become cases about one person, graded red, yellow or blue, routed to the
//! officer responsible for where the person lives, and worked to an outcome within deadlines
//! that escalate to the station head and then the branch. Warnings arrive as JSON or as CSV/XLSX
//! files (`import.rs`), both through the same batch path in `service.rs`.
//!
//! Tables: `fraud_warnings`, `fraud_cases`, `fraud_case_events`, `fraud_candidates`,
//! `fraud_region_stations`; settings `antifraud.grading`, `antifraud.deadlines`.
//! Reads (never writes) residents, their phones and tags, grid teams and the organisation.
//! Invariant: a warning is stored once per (source, upstream_id); the first one stands.
//! Invariant: a case's grade only goes up; its deadlines run from our receipt and only come
//! forward; each is a job, so it fires once across restarts and servers.
//! Invariant: warnings loaded as history create no deadline, escalation, event or notification.
//! Invariant: figures count facts where they happened (the case's station and unit at opening).
//! Invariant: a warning is matched by ID number, or by a phone only one resident holds; never by
//! name.

pub mod api;
pub mod bulk;
pub mod bulk_whole;
pub mod case_page;
pub mod cases;
pub mod deadlines;
pub mod directory;
pub mod figures;
pub mod figures_page;
pub mod import;
pub mod import_api;
pub mod import_cli;
pub mod import_page;
pub mod import_template;
pub mod intake;
pub mod live;
pub mod matching;
pub mod model;
pub mod pages;
pub mod routes;
pub mod rules;
pub mod rules_page;
pub mod service;
pub mod settings_api;
pub mod store;
pub mod together;
pub mod work;
