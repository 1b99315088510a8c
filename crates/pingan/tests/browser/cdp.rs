//! A minimal Chrome DevTools Protocol client: one websocket to the browser, commands matched to
//! replies by id, events ignored (the tests poll page state instead of following events).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Sink = SplitSink<WebSocketStream<MaybeTlsStream<TcpStream>>, Message>;
type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Result<Value, Value>>>>>;

/// How long any condition may take before the test fails and says what was on screen.
const WAIT: Duration = Duration::from_secs(15);

pub struct Cdp {
    sink: tokio::sync::Mutex<Sink>,
    pending: Pending,
    next_id: AtomicU64,
}

impl Cdp {
    pub async fn connect(ws_url: &str) -> Arc<Cdp> {
        let (ws, _) = tokio_tungstenite::connect_async(ws_url).await.expect("connect to Chromium's DevTools socket");
        let (sink, mut stream) = ws.split();
        let pending: Pending = Arc::default();
        let replies = pending.clone();
        tokio::spawn(async move {
            while let Some(Ok(msg)) = stream.next().await {
                let Message::Text(text) = msg else { continue };
                let Ok(v) = serde_json::from_str::<Value>(&text) else { continue };
                let Some(id) = v.get("id").and_then(Value::as_u64) else { continue };
                if let Some(tx) = replies.lock().unwrap().remove(&id) {
                    let _ = tx.send(match v.get("error") {
                        Some(e) => Err(e.clone()),
                        None => Ok(v.get("result").cloned().unwrap_or(Value::Null)),
                    });
                }
            }
            // Socket gone: dropping the senders wakes every waiting call with an error.
            replies.lock().unwrap().clear();
        });
        Arc::new(Cdp { sink: tokio::sync::Mutex::new(sink), pending, next_id: AtomicU64::new(1) })
    }

    /// One command; `session` targets a page attached with `flatten: true`.
    pub async fn call(&self, session: Option<&str>, method: &str, params: Value) -> Result<Value, String> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.pending.lock().unwrap().insert(id, tx);
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        self.sink.lock().await.send(Message::Text(msg.to_string().into())).await.map_err(|e| e.to_string())?;
        match tokio::time::timeout(Duration::from_secs(30), rx).await {
            Ok(Ok(Ok(v))) => Ok(v),
            Ok(Ok(Err(e))) => Err(format!("{method}: {e}")),
            Ok(Err(_)) => Err(format!("{method}: DevTools socket closed")),
            Err(_) => Err(format!("{method}: no reply in 30 s")),
        }
    }
}

/// One tab, driven through its flattened session.
pub struct Page {
    cdp: Arc<Cdp>,
    session: String,
    base: String,
}

impl Page {
    pub async fn open(cdp: Arc<Cdp>, base: &str) -> Page {
        let target = cdp.call(None, "Target.createTarget", json!({"url": "about:blank"})).await.unwrap();
        let params = json!({"targetId": target["targetId"], "flatten": true});
        let attached = cdp.call(None, "Target.attachToTarget", params).await.unwrap();
        let session = attached["sessionId"].as_str().expect("sessionId").to_string();
        Page { cdp, session, base: base.to_string() }
    }

    pub async fn call(&self, method: &str, params: Value) -> Value {
        self.cdp.call(Some(&self.session), method, params).await.unwrap_or_else(|e| panic!("{e}"))
    }

    pub async fn viewport(&self, width: u32, height: u32, scale: f64, mobile: bool) {
        let p = json!({"width": width, "height": height, "deviceScaleFactor": scale, "mobile": mobile});
        self.call("Emulation.setDeviceMetricsOverride", p).await;
    }

    /// Evaluates `expr` in the page; `Err` while a navigation has torn down the old document.
    pub async fn try_eval(&self, expr: &str) -> Result<Value, String> {
        let p = json!({"expression": expr, "returnByValue": true, "awaitPromise": true});
        let r = self.cdp.call(Some(&self.session), "Runtime.evaluate", p).await?;
        if let Some(ex) = r.get("exceptionDetails") {
            return Err(format!("`{expr}` threw: {ex}"));
        }
        Ok(r["result"].get("value").cloned().unwrap_or(Value::Null))
    }

    pub async fn eval(&self, expr: &str) -> Value {
        match self.try_eval(expr).await {
            Ok(v) => v,
            Err(e) => panic!("{e}\n{}", self.on_screen().await),
        }
    }

    pub async fn text(&self, selector: &str) -> String {
        let v = self.eval(&format!("document.querySelector({selector:?})?.textContent.trim() ?? null")).await;
        match v.as_str() {
            Some(s) => s.to_string(),
            None => panic!("no {selector}\n{}", self.on_screen().await),
        }
    }

    /// Where the page is and what it shows, for failure messages.
    pub async fn on_screen(&self) -> String {
        let expr = "location.href + '\\n' + (document.body ? document.body.innerText : '(no body)')";
        match self.try_eval(expr).await {
            Ok(Value::String(s)) => {
                let cut: String = s.chars().take(1500).collect();
                format!("on screen at {cut}{}", if cut.len() < s.len() { " …" } else { "" })
            }
            other => format!("page unreadable: {other:?}"),
        }
    }

    /// Waits until `cond` (a JS boolean expression) holds, failing after `WAIT`. The page itself
    /// re-checks the condition (every 25 ms, for up to a second per round) and answers when it
    /// holds; a navigation ends that page's answer early and the next round asks the new page.
    /// Nothing here sleeps: every round is a call the browser answers.
    pub async fn wait_until(&self, cond: &str, what: &str) {
        let deadline = tokio::time::Instant::now() + WAIT;
        let expr = format!(
            "new Promise((resolve) => {{ const end = Date.now() + 1000; const check = () => {{ \
               let ok = false; try {{ ok = Boolean({cond}); }} catch (e) {{}} \
               if (ok || Date.now() > end) {{ resolve(ok); }} else {{ setTimeout(check, 25); }} }}; check(); }})"
        );
        loop {
            if let Ok(Value::Bool(true)) = self.try_eval(&expr).await {
                return;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!("timed out after {WAIT:?} waiting for {what} (`{cond}`)\n{}", self.on_screen().await);
            }
        }
    }

    /// Loads `path` and waits until the new document is complete. A marker on the old window
    /// tells the documents apart, so a page that redirects back to the same path is not
    /// mistaken for the one already shown.
    pub async fn goto(&self, path: &str) {
        let _ = self.try_eval("window.__pinganOld = true").await;
        let nav = self.call("Page.navigate", json!({"url": format!("{}{path}", self.base)})).await;
        if let Some(err) = nav.get("errorText").and_then(Value::as_str) {
            panic!("navigating to {path} failed: {err}");
        }
        let cond = "!window.__pinganOld && location.href !== 'about:blank' && document.readyState === 'complete'";
        self.wait_until(cond, &format!("{path} to load")).await;
    }

    /// A real mouse click at the element's centre, so a covered or off-screen control fails.
    pub async fn click(&self, selector: &str) {
        let expr = format!(
            "(() => {{ const e = document.querySelector({selector:?}); if (!e) return null;
               e.scrollIntoView({{block: 'center'}}); const r = e.getBoundingClientRect();
               return [r.x + r.width / 2, r.y + r.height / 2]; }})()"
        );
        let at = self.eval(&expr).await;
        let (Some(x), Some(y)) = (at[0].as_f64(), at[1].as_f64()) else {
            panic!("cannot click {selector}: not on the page\n{}", self.on_screen().await);
        };
        for kind in ["mouseMoved", "mousePressed", "mouseReleased"] {
            let p = json!({"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1});
            self.call("Input.dispatchMouseEvent", p).await;
        }
    }

    /// Focuses the field, clears it and types `text` as keyboard input would.
    pub async fn fill(&self, selector: &str, text: &str) {
        let expr = format!("(() => {{ const e = document.querySelector({selector:?}); if (!e) return false; e.focus(); e.value = ''; return document.activeElement === e; }})()");
        if self.eval(&expr).await != Value::Bool(true) {
            panic!("cannot focus {selector}\n{}", self.on_screen().await);
        }
        self.call("Input.insertText", json!({"text": text})).await;
    }

    pub async fn screenshot(&self, file: &std::path::Path) {
        let shot = self.call("Page.captureScreenshot", json!({"format": "png"})).await;
        let data = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().expect("screenshot data"))
            .expect("screenshot is base64");
        std::fs::create_dir_all(file.parent().unwrap()).expect("create screenshot dir");
        std::fs::write(file, data).unwrap_or_else(|e| panic!("write {}: {e}", file.display()));
    }
}
