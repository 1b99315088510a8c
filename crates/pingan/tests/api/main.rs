//! One test binary: every capability's integration tests, through the real server.

mod helpers;

mod accounts;
mod antifraud;
mod antifraud_bulk;
mod antifraud_figures;
mod antifraud_files;
mod antifraud_live;
mod antifraud_pages;
mod antifraud_work;
mod audit;
mod auth;
mod bad_input;
mod basedata;
mod basedata_pages;
mod bulk;
mod cli;
mod demo;
mod demo_warnings;
mod events;
mod export;
mod grid_import;
mod grid_teams;
mod grids;
mod group_commit;
mod import;
mod jobs;
mod logs;
mod map;
mod org;
mod pages;
mod push;
mod visits;
