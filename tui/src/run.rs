//! The interactive loop: input and worker replies become actions, effects
//! go to the worker or the terminal, and the screen is drawn when changed.

use std::io::{self, Write};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
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
    pub fn start(
        terminal: Terminal<B>,
        target: Target,
        client: Client,
        session: Session,
        clipboard: Box<dyn FnMut(&str)>,
    ) -> Self {
        // Off a terminal (benches, tests): no thread is a bug to see.
        Self::start_notify(terminal, target, client, session, clipboard, || {})
            .expect("the database thread starts")
    }

    /// Like `start`; `notify` is called (on the worker thread) after each
    /// reply is queued, so a loop can sleep until there is something to do.
    pub fn start_notify(
        terminal: Terminal<B>,
        target: Target,
        client: Client,
        session: Session,
        clipboard: Box<dyn FnMut(&str)>,
        notify: impl Fn() + Send + 'static,
    ) -> io::Result<Self> {
        let (tx, rx) = std::sync::mpsc::channel();
        let description = target.describe();
        let w = worker::spawn(target, client, move |r| {
            if tx.send(r).is_ok() {
                notify();
            }
        })?;
        let mut console = Console {
            terminal,
            app: App::new(session, description, Utc::now()),
            replies: rx,
            requests: w.requests,
            clipboard,
        };
        let fx = console.app.start();
        console.dispatch(fx);
        Ok(console)
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
                        self.app.update(Action::Db(Reply::ConnectionLost {
                            error: "the database thread stopped".into(),
                        }));
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

/// What wakes the interactive loop. It sleeps until one of these arrives
/// or the next clock tick is due: an idle console does nothing else.
enum Wake {
    Input(Event),
    /// The terminal could not be read: it is gone.
    InputError(io::Error),
    /// The worker answered: drain the replies.
    Reply,
    /// SIGTERM, SIGHUP or SIGINT.
    Signal,
}

/// Why the interactive loop ended.
#[derive(Debug, PartialEq, Eq)]
enum Exit {
    Quit,
    Signal,
    TerminalGone,
}

/// The terminal is still there. After a hangup (the tmux pane or the
/// terminal window closed) the tty answers every ioctl with EIO, so isatty
/// is false; reads would only return EOF.
fn terminal_alive() -> bool {
    use std::io::IsTerminal;
    io::stdin().is_terminal() && io::stdout().is_terminal()
}

/// Reads terminal input on its own thread, so the loop never blocks on it.
///
/// crossterm 0.28 loops inside `poll`/`read` without returning when the tty
/// reads EOF or fails (a hangup): a loop that polls input itself never
/// regains control, spins a core, and never sees the signal that asked it
/// to stop. Here only this thread can be caught that way; the loop notices
/// the hangup (signal or `terminal_alive`) and the process exits.
fn spawn_input(wake: Sender<Wake>) -> io::Result<()> {
    std::thread::Builder::new()
        .name("tokens-console-input".into())
        .spawn(move || loop {
            match event::read() {
                Ok(e) => {
                    if wake.send(Wake::Input(e)).is_err() {
                        return;
                    }
                }
                Err(e) => {
                    let _ = wake.send(Wake::InputError(e));
                    return;
                }
            }
        })?;
    Ok(())
}

/// Forwards SIGTERM, SIGHUP and SIGINT to the loop.
fn spawn_signals(wake: Sender<Wake>) -> io::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGHUP, SIGINT])?;
    std::thread::Builder::new()
        .name("tokens-console-signals".into())
        .spawn(move || {
            if signals.forever().next().is_some() {
                let _ = wake.send(Wake::Signal);
            }
        })?;
    Ok(())
}

/// How often the clock ticks: relative times, follow mode, and the check
/// that the terminal is still there.
const TICK: Duration = Duration::from_secs(1);

/// Runs the console on the real terminal until the user quits, a signal
/// (SIGTERM, SIGHUP, SIGINT) arrives or the terminal goes away; the
/// terminal is restored either way.
pub fn interactive(target: Target, client: Client, session: Session) -> io::Result<()> {
    let (wake, woken) = std::sync::mpsc::channel::<Wake>();
    spawn_signals(wake.clone())?;
    let tui = terminal::setup()?;
    let _guard = terminal::Guard;
    spawn_input(wake.clone())?;
    let clipboard = Box::new(|seq: &str| {
        let mut out = io::stdout();
        let _ = out.write_all(seq.as_bytes());
        let _ = out.flush();
    });
    let notify = wake.clone();
    let mut console = Console::start_notify(tui, target, client, session, clipboard, move || {
        let _ = notify.send(Wake::Reply);
    })?;
    drop(wake);
    match run_loop(&mut console, &woken) {
        Ok(_) => Ok(()),
        // Writing to a terminal that is gone fails: nothing to report to it.
        Err(_) if !terminal_alive() => Ok(()),
        Err(e) => Err(e),
    }
}

fn run_loop<B: Backend>(console: &mut Console<B>, woken: &Receiver<Wake>) -> io::Result<Exit> {
    let mut dirty = true;
    let mut next_tick = Instant::now() + TICK;
    loop {
        if console.app.quit {
            return Ok(Exit::Quit);
        }
        if dirty {
            console.draw()?;
            dirty = false;
        }
        match woken.recv_timeout(next_tick.saturating_duration_since(Instant::now())) {
            Ok(Wake::Input(e)) => {
                let action = match e {
                    Event::Key(k) => crate::event::action_for_key(&console.app, k),
                    Event::Mouse(m) => crate::event::action_for_mouse(&console.app, m),
                    Event::Paste(text) => {
                        for a in crate::event::actions_for_paste(&console.app, text) {
                            console.update(a);
                        }
                        dirty = true;
                        None
                    }
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
            Ok(Wake::Reply) => {
                if console.drain_replies() {
                    dirty = true;
                }
            }
            Ok(Wake::InputError(e)) => {
                return if terminal_alive() {
                    Err(e)
                } else {
                    Ok(Exit::TerminalGone)
                };
            }
            Ok(Wake::Signal) => return Ok(Exit::Signal),
            Err(RecvTimeoutError::Timeout) => {
                if !terminal_alive() {
                    return Ok(Exit::TerminalGone);
                }
                next_tick = Instant::now() + TICK;
                console.update(Action::Tick(Utc::now()));
                dirty = true;
            }
            // Every sender is gone: no input, no signals, no worker.
            Err(RecvTimeoutError::Disconnected) => return Ok(Exit::TerminalGone),
        }
    }
}
