//! The interactive loop: input and worker replies become actions, effects
//! go to the worker or the terminal, and the screen is drawn when changed.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use crossterm::event::{self, Event};
use postgres::Client;
use ratatui::backend::Backend;
use ratatui::Terminal;

use crate::action::{Action, Effect};
use crate::app::App;
use crate::conn::Target;
use crate::db::model::Session;
use crate::db::{worker, Reply, Request};
use crate::{terminal, ui};

/// The console on any backend: the real terminal, or a test one.
pub struct Console<B: Backend> {
    pub terminal: Terminal<B>,
    pub app: App,
    replies: Receiver<Reply>,
    requests: Sender<Request>,
    /// OSC 52 sequences are written here (stdout in the real console).
    clipboard: Box<dyn FnMut(&str)>,
}

impl<B: Backend> Console<B> {
    pub fn start(terminal: Terminal<B>, target: Target, client: Client, session: Session, clipboard: Box<dyn FnMut(&str)>) -> Self {
        let (tx, rx) = std::sync::mpsc::channel();
        let description = target.describe();
        let w = worker::spawn(target, client, move |r| {
            let _ = tx.send(r);
        });
        let mut console = Console {
            terminal,
            app: App::new(session, description, Utc::now()),
            replies: rx,
            requests: w.requests,
            clipboard,
        };
        let fx = console.app.start();
        console.dispatch(fx);
        console
    }

    pub fn update(&mut self, action: Action) {
        let fx = self.app.update(action);
        self.dispatch(fx);
    }

    fn dispatch(&mut self, effects: Vec<Effect>) {
        for e in effects {
            match e {
                Effect::Db(req) => {
                    // A closed channel means the worker is gone: the banner says so.
                    if self.requests.send(req).is_err() {
                        self.app.update(Action::Db(Reply::ConnectionLost { error: "the database thread stopped".into() }));
                    }
                }
                Effect::Copy(secret) => (self.clipboard)(&terminal::osc52(secret.expose())),
            }
        }
    }

    /// Applies every reply that has arrived; true if any did.
    pub fn drain_replies(&mut self) -> bool {
        let mut any = false;
        while let Ok(r) = self.replies.try_recv() {
            self.update(Action::Db(r));
            any = true;
        }
        any
    }

    /// Waits up to `timeout` for one reply, then applies all that arrived.
    pub fn wait_reply(&mut self, timeout: Duration) -> bool {
        match self.replies.recv_timeout(timeout) {
            Ok(r) => {
                self.update(Action::Db(r));
                self.drain_replies();
                true
            }
            Err(_) => false,
        }
    }

    pub fn draw(&mut self) -> io::Result<()> {
        let app = &self.app;
        self.terminal.draw(|f| ui::draw(f, app))?;
        Ok(())
    }
}

/// Runs the console on the real terminal until the user quits or a signal
/// (SIGTERM, SIGHUP, SIGINT) arrives; the terminal is restored either way.
pub fn interactive(target: Target, client: Client, session: Session) -> io::Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGHUP, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, Arc::clone(&stop))?;
    }
    let tui = terminal::setup()?;
    let _guard = terminal::Guard;
    let clipboard = Box::new(|seq: &str| {
        let mut out = io::stdout();
        let _ = out.write_all(seq.as_bytes());
        let _ = out.flush();
    });
    let mut console = Console::start(tui, target, client, session, clipboard);
    let mut dirty = true;
    let mut last_tick = Instant::now();
    while !console.app.quit && !stop.load(Ordering::Relaxed) {
        if dirty {
            console.draw()?;
            dirty = false;
        }
        if event::poll(Duration::from_millis(40))? {
            let action = match event::read()? {
                Event::Key(k) => crate::event::action_for_key(&console.app, k),
                Event::Mouse(m) => crate::event::action_for_mouse(&console.app, m),
                Event::Resize(..) => {
                    dirty = true;
                    None
                }
                _ => None,
            };
            if let Some(a) = action {
                console.update(a);
                dirty = true;
            }
        }
        if console.drain_replies() {
            dirty = true;
        }
        if last_tick.elapsed() >= Duration::from_secs(1) {
            last_tick = Instant::now();
            console.update(Action::Tick(Utc::now()));
            dirty = true;
        }
    }
    Ok(())
}
