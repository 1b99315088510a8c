//! Start-up and router assembly: the one builder both `pingan serve` and the tests use.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::Router;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::clock::Clock;
use crate::config::Config;
use crate::db::Db;
use crate::ops::metrics::Metrics;
use crate::pii::DataKey;
use crate::settings::{self, SecurityPolicy};
use crate::web::error::AppError;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub key: Arc<DataKey>,
    pub clock: Clock,
    pub config: Arc<Config>,
    pub metrics: Arc<Metrics>,
    /// The database is a demo: the pages say so.
    pub demo: bool,
    /// This process's name in job leases.
    pub server_id: String,
    /// Wakes this process's event subscribers (see `events`).
    pub events_wake: Arc<tokio::sync::Notify>,
    /// The point-to-grid index, rebuilt when grid shapes change.
    pub grids: Arc<crate::grids::index::IndexCache>,
    /// The map's geometry JSON per grid, shape version and zoom.
    pub grid_geometry: Arc<crate::grids::geometry_cache::GeometryCache>,
    /// Progress of the imports running on this server, for the page that started them.
    pub imports: Arc<crate::basedata::import_progress::Running>,
    /// Cancelled when the server starts shutting down, so that long-lived responses (event
    /// streams) end and graceful shutdown does not wait hours for them.
    pub shutdown: tokio_util::sync::CancellationToken,
    /// Integration tokens by hash, and the grading settings: read for every warning, kept a
    /// second (see `cache`).
    pub tokens: Arc<crate::cache::Fresh<Vec<u8>, crate::auth::integration::TokenRow>>,
    pub antifraud_settings: Arc<crate::cache::Fresh<(), crate::antifraud::intake::Settings>>,
    /// Live warnings queued to be written together (see `antifraud::live`).
    pub warning_writer: crate::antifraud::live::Queue,
}

impl AppState {
    pub async fn new(db: Db, key: DataKey, clock: Clock, config: Config) -> anyhow::Result<AppState> {
        AppState::with_key(db, Arc::new(key), clock, config).await
    }

    /// A state sharing a key already held elsewhere: the demo builder sends its first live
    /// warnings through the real intake path before any server runs.
    pub async fn with_key(db: Db, key: Arc<DataKey>, clock: Clock, config: Config) -> anyhow::Result<AppState> {
        let demo = crate::meta::is_demo(&db).await?;
        let warning_writer = crate::antifraud::live::Queue::start(db.group_writers());
        Ok(AppState {
            db,
            key,
            clock,
            config: Arc::new(config),
            metrics: Arc::new(Metrics::default()),
            demo,
            server_id: crate::jobs::server_id(),
            events_wake: Arc::new(tokio::sync::Notify::new()),
            grids: Arc::default(),
            grid_geometry: Arc::default(),
            imports: Arc::default(),
            shutdown: tokio_util::sync::CancellationToken::new(),
            tokens: Arc::default(),
            antifraud_settings: Arc::default(),
            warning_writer,
        })
    }

    pub async fn security_policy(&self) -> Result<SecurityPolicy, AppError> {
        settings::get(&self.db, settings::SECURITY_POLICY).await.map_err(AppError::Internal)
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "pingan API", description = "Self-hosted platform for a city public-security bureau."),
    modifiers(&BearerAuth),
    tags((name = "auth"), (name = "org"), (name = "accounts"), (name = "grants"), (name = "audit"), (name = "tokens"), (name = "events"), (name = "grids"), (name = "antifraud"), (name = "notifications"), (name = "push"))
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The whole application. The API routes and the OpenAPI document come from the same
/// declarations, so the document cannot drift from the routes.
pub fn router(state: AppState) -> Router {
    let (api, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(crate::auth::api::routes())
        .merge(crate::org::api::routes())
        .merge(crate::accounts::api::routes())
        .merge(crate::audit::pages::api_routes())
        .merge(crate::grids::api::routes())
        .merge(crate::basedata::api::routes())
        .merge(crate::basedata::import_api::routes())
        .merge(crate::visits::api::routes())
        .merge(crate::antifraud::api::routes())
        .merge(crate::push::api::routes())
        .merge(crate::notifications::pages::api_routes())
        .routes(utoipa_axum::routes!(crate::events::stream::sse))
        .split_for_parts();
    let mut openapi = openapi;
    crate::web::openapi::add_common_responses(&mut openapi);
    crate::web::openapi::close_tagged_unions(&mut openapi);
    let openapi = Arc::new(openapi);
    let spec = {
        let openapi = openapi.clone();
        move || {
            let openapi = openapi.clone();
            async move { axum::Json(openapi.as_ref().clone()) }
        }
    };
    Router::new()
        .merge(api)
        .route("/api/v1/openapi.json", get(spec))
        .merge(crate::auth::pages::routes())
        .merge(crate::org::pages::routes())
        .merge(crate::grids::pages::routes())
        .merge(crate::basedata::pages::routes())
        .merge(crate::basedata::import_page::routes())
        .merge(crate::visits::pages::routes())
        .merge(crate::antifraud::pages::routes())
        .merge(crate::push::pages::routes())
        .merge(crate::notifications::pages::routes())
        .merge(crate::accounts::pages::routes())
        .merge(crate::accounts::grant_pages::routes())
        .merge(crate::auth::admin_pages::routes())
        .merge(crate::audit::pages::routes())
        .route("/healthz", get(crate::ops::healthz))
        .route("/readyz", get(crate::ops::readyz))
        .route("/metrics", get(crate::ops::metrics))
        .route("/static/{name}", get(crate::web::assets::serve))
        .fallback(|| async { AppError::NotFound })
        // A bug that panics in a handler answers 500 in the error shape (with the request id the
        // outer middleware adds) instead of dropping the connection; the panic is logged.
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_: Box<dyn std::any::Any + Send>| {
            axum::response::IntoResponse::into_response(AppError::Internal(anyhow::anyhow!(
                "a request handler panicked"
            )))
        }))
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::auth::resolve_caller))
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::web::middleware::outer))
        .layer(DefaultBodyLimit::max(1024 * 1024))
        // Grid GeoJSON for a city is megabytes of digits; gzip shrinks it several-fold.
        .layer(tower_http::compression::CompressionLayer::new().gzip(true))
        .with_state(state)
}

/// Serves until `shutdown` resolves, then finishes the requests in flight.
pub async fn serve(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    crate::events::start_listener(&state, state.config.database_url());
    let streams = state.shutdown.clone();
    let app = router(state);
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(async move {
            shutdown.await;
            streams.cancel();
        })
        .await?;
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down: finishing requests in flight");
}
