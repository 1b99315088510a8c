//! The map's deployment settings: an intranet tile server is optional, checked when the
//! configuration loads, and the only other origin the pages' CSP ever admits (for images).

use std::process::Command;

use crate::helpers::{spawn_app, spawn_app_with, TestApp};

async fn csp(app: &TestApp, path: &str) -> String {
    let resp = app.client.get(app.at(path)).send().await.unwrap();
    resp.headers()["content-security-policy"].to_str().unwrap().to_string()
}

async fn map_page(app: &TestApp) -> String {
    app.exempt_all_roles_from_mfa().await;
    let (client, _) = app.web_login("station_head", crate::helpers::PASSWORD).await;
    let (status, page, _) = app.page(&client, "/map").await;
    assert_eq!(status, 200, "{page}");
    page
}

#[tokio::test]
async fn without_a_tile_server_nothing_but_our_origin_is_admitted_and_the_map_asks_for_no_tiles() {
    let app = spawn_app().await;
    for path in ["/login", "/api/v1/grids/geojson", "/static/map.js"] {
        let policy = csp(&app, path).await;
        assert!(policy.contains("img-src 'self' data:;"), "{path}: {policy}");
        assert!(!policy.contains("http"), "{path}: no other origin: {policy}");
    }
    let page = map_page(&app).await;
    assert!(!page.contains("data-tiles") && !page.contains("map-tiles.js"), "no tile layer by default");
}

#[tokio::test]
async fn a_configured_tile_server_is_admitted_for_images_only_and_handed_to_the_map() {
    let app = spawn_app_with(|c| {
        c.map.tile_url = "http://tiles.intranet:8080/{z}/{x}/{y}.png".into();
        c.map.attribution = "底图 © 市测绘院 <b>".into();
        c.map.max_zoom = 16;
    })
    .await;
    let policy = csp(&app, "/login").await;
    assert!(policy.contains("img-src 'self' data: http://tiles.intranet:8080;"), "{policy}");
    assert_eq!(policy.matches("tiles.intranet").count(), 1, "images only, not scripts or connections: {policy}");
    assert!(policy.contains("connect-src 'self';") && policy.contains("script-src 'self';"), "{policy}");
    let page = map_page(&app).await;
    assert!(page.contains("data-tiles=\"http://tiles.intranet:8080/{z}/{x}/{y}.png\""), "{page}");
    assert!(page.contains("data-tiles-max-zoom=\"16\"") && page.contains("/static/map-tiles.js"));
    assert!(page.contains("底图 © 市测绘院 &lt;b&gt;"), "the attribution is text, escaped");
    let resp = app.client.get(app.at("/static/map-tiles.js")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200, "the tile script is one of our own files");
}

#[test]
fn pingan_config_check_refuses_a_bad_tile_url_and_accepts_a_good_one() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("pingan.key");
    let run = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_pingan")).args(args).env_remove("PINGAN_CONFIG").output().unwrap();
        (o.status.success(), format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)))
    };
    assert!(run(&["key", "generate", "--out", key.to_str().unwrap()]).0);
    let check = |toml: &str| {
        let file = dir.path().join("pingan.toml");
        std::fs::write(&file, toml).unwrap();
        let data = dir.path().join("data");
        run(&[
            "config",
            "check",
            "--config",
            file.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ])
    };
    let (ok, out) = check("[map]\ntile_url = \"tiles.intranet/{z}/{x}/{y}.png\"\n");
    assert!(!ok && out.contains("map.tile_url") && out.contains("http://"), "{out}");
    let (ok, out) = check("[map]\ntile_url = \"http://tiles.intranet/{z}/{x}.png\"\n");
    assert!(!ok && out.contains("{y}"), "{out}");
    let (ok, out) = check("[map]\ntile_url = \"http://tiles.intranet/{z}/{x}/{y}.png\"\nmax_zoom = 30\n");
    assert!(!ok && out.contains("map.max_zoom"), "{out}");
    let (ok, out) = check("[map]\ntile_url = \"http://tiles.intranet/{z}/{x}/{y}.png\"\nattribution = \"底图\"\n");
    assert!(ok && out.contains("ok"), "{out}");
}
