//! Browser tests: the real `pingan demo` server driven by real headless Chromium over the
//! DevTools protocol. They need Chromium (`PINGAN_TEST_CHROMIUM`), so they run only with
//! `cargo test --test browser`. Each test has its own server and browser, so they run in parallel.

mod antifraud;
mod basedata;
mod cdp;
mod city;
mod map;
mod officer;
mod procs;
mod tiles;

use std::path::PathBuf;

use cdp::{Cdp, Page};
use procs::{Chromium, Server, PASSWORD};

/// `target/browser-screenshots/`, beside the build output, for a person to look at.
fn screenshot_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/browser-screenshots").join(name)
}

/// A screen size: CSS width and height, device pixel ratio, mobile emulation.
type Screen = (u32, u32, f64, bool);
const DESKTOP: Screen = (1280, 800, 1.0, false);
const PHONE: Screen = (390, 844, 2.0, true);

/// A demo server and a browser tab on it; fields drop in order, so the tab closes before the
/// browser and the browser stops before the server.
struct Harness {
    page: Page,
    _chromium: Chromium,
    _server: Server,
}

impl Harness {
    /// The demo server's address, for requests an upstream system would send.
    fn base(&self) -> &str {
        &self._server.base
    }
}

async fn open(screen: Screen) -> Harness {
    open_with(screen, &[]).await
}

/// A harness on `pingan demo` started with extra arguments.
async fn open_with(screen: Screen, demo_args: &[&str]) -> Harness {
    open_with_env(screen, demo_args, &[]).await
}

/// A harness on `pingan demo` started with extra arguments and environment variables.
async fn open_with_env(screen: Screen, demo_args: &[&str], env: &[(&str, &str)]) -> Harness {
    procs::chromium_path(); // fail fast, before spending seconds on seeding
    let server = Server::start_with_env(demo_args, env).await;
    let chromium = Chromium::start().await;
    let page = Page::open(Cdp::connect(&chromium.ws_url).await, &server.base).await;
    page.viewport(screen.0, screen.1, screen.2, screen.3).await;
    Harness { page, _chromium: chromium, _server: server }
}

/// Sign in as the demo station head from the sign-in page and wait for the home page.
async fn sign_in(page: &Page) {
    sign_in_as(page, "station_head").await;
}

async fn sign_in_as(page: &Page, username: &str) {
    page.goto("/login").await;
    page.fill("#username", username).await;
    page.fill("#password", PASSWORD).await;
    page.click("#sign-in").await;
    let cond = "location.pathname === '/' && !!document.querySelector('#home-title')";
    page.wait_until(cond, "the home page after signing in").await;
}

async fn assert_no_horizontal_scroll(page: &Page, what: &str) {
    let widths = page.eval("[document.documentElement.scrollWidth, window.innerWidth]").await;
    let (scroll, inner) = (widths[0].as_i64().unwrap(), widths[1].as_i64().unwrap());
    assert!(
        scroll <= inner,
        "{what} scrolls sideways on a phone: scrollWidth {scroll} > innerWidth {inner}\n{}",
        page.on_screen().await
    );
}

#[tokio::test]
async fn desktop_sign_in_language_and_sign_out() {
    let harness = open(DESKTOP).await;
    let page = &harness.page;

    page.goto("/login").await;
    let lang = page.eval("document.documentElement.lang").await;
    assert_eq!(lang, "zh-CN", "the sign-in page is not Chinese by default\n{}", page.on_screen().await);

    sign_in(page).await;
    let title = page.text("#home-title").await;
    assert_eq!(title, "工作台", "the home page is not Chinese\n{}", page.on_screen().await);
    let body = page.eval("document.body.innerText").await;
    let body = body.as_str().unwrap_or_default();
    assert!(body.contains("李卫东"), "the station head's name is not shown\n{}", page.on_screen().await);
    let demo = page.eval("!!document.querySelector('.demo')").await;
    assert_eq!(demo, true, "no demo banner (.demo)\n{}", page.on_screen().await);
    page.screenshot(&screenshot_path("home-desktop.png")).await;

    page.click("#lang-switch").await;
    let english = "document.querySelector('#home-title')?.textContent.trim() === 'Workbench' \
                   && document.documentElement.lang === 'en'";
    page.wait_until(english, "the home page in English").await;

    // The choice is a cookie, so a fresh load of the page must still be in English.
    page.goto("/").await;
    page.wait_until(english, "English to be remembered on a fresh load of /").await;

    page.click("#sign-out").await;
    page.wait_until("location.pathname === '/login'", "the sign-in page after signing out").await;
    page.goto("/").await;
    let path = page.eval("location.pathname").await;
    assert_eq!(path, "/login", "/ after signing out should send to /login\n{}", page.on_screen().await);
}

#[tokio::test]
async fn phone_pages_do_not_scroll_sideways() {
    let harness = open(PHONE).await;
    let page = &harness.page;

    sign_in(page).await;
    let inner = page.eval("window.innerWidth").await;
    assert_eq!(inner, 390, "the phone viewport did not apply\n{}", page.on_screen().await);
    assert_no_horizontal_scroll(page, "the home page").await;
    page.screenshot(&screenshot_path("home-phone.png")).await;

    assert_pages_fit(page, &["/accounts", "/org", "/grids", "/duty-links"]).await;
    // A grid's page, with its team table and the form that adds a member.
    page.goto("/grids").await;
    page.wait_until("!!document.querySelector('#grids tbody a')", "the grids list").await;
    page.click("#grids tbody a").await;
    page.wait_until(
        "!!document.querySelector('#grid-title') && !!document.querySelector('#add-member')",
        "a grid's page",
    )
    .await;
    assert_no_horizontal_scroll(page, "a grid's page").await;
    page.screenshot(&screenshot_path("grid-phone.png")).await;
}

/// Opens each page and checks it fits the screen's width.
async fn assert_pages_fit(page: &Page, paths: &[&str]) {
    for path in paths {
        page.goto(path).await;
        // An error page is narrow too: make sure the real page is what got measured.
        let cond = format!(
            "location.pathname === '{path}' && !!document.querySelector('main h1') \
             && !/^(出错了|Something went wrong)/.test(document.querySelector('main h1').textContent)"
        );
        page.wait_until(&cond, &format!("{path} to show (not an error page)")).await;
        assert_no_horizontal_scroll(page, path).await;
    }
}

#[tokio::test]
async fn administrative_pages_fit_a_phone_too() {
    let harness = open(PHONE).await;
    let page = &harness.page;
    for (user, paths) in [
        ("secadmin", &["/grants", "/security", "/me"][..]),
        ("auditor", &["/audit"][..]),
        ("sysadmin", &["/tokens", "/accounts", "/org"][..]),
    ] {
        sign_in_as(page, user).await;
        assert_no_horizontal_scroll(page, &format!("{user}'s home page")).await;
        assert_pages_fit(page, paths).await;
        page.goto("/").await;
        page.click("#sign-out").await;
        page.wait_until("location.pathname === '/login'", "the sign-in page after signing out").await;
    }
}
