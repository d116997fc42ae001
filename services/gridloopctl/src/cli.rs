//! The command line: every subcommand and option, as clap derive definitions. Values that the
//! servers validate (phones, codes, texts) are passed through untouched so their errors name
//! the proto field; values the client converts (times, enums, ratings) are parsed here.

use clap::{Args, Parser, Subcommand};

pub use crate::choices::*;
use crate::timefmt::{Instant, parse_date, parse_instant, parse_ttl};

const AFTER_HELP: &str = "\
Credentials: --token or GRIDLOOP_TOKEN; or --as ROLE[:SUB] [--as-grid CODE]... mints a
10-minute token when GRIDLOOP_JWT_SECRET is set (local stack: `. .local/env`).
Addresses: GRIDLOOP_{INTAKE,ROUTING,CLOSURE,TRACKER,REPORTS}_ADDR (default 127.0.0.1:50051..50055).
Exit codes: 0 ok, 1 other, 2 usage, 3 not found, 4 refused (invalid argument, failed
precondition, permission, authentication, already exists), 5 unavailable.";

/// gridloop's command-line client: submit tickets, work tasks, close the loop, read reports.
#[derive(Debug, Parser)]
#[command(name = "gridloopctl", version, about, long_about = None, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct Global {
    /// Print the response as JSON (for scripts) instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
    /// Bearer token to call with.
    #[arg(long, global = true, env = "GRIDLOOP_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Mint a token on the fly as ROLE[:SUB] (needs GRIDLOOP_JWT_SECRET; local stack only).
    #[arg(long = "as", value_name = "ROLE[:SUB]", global = true)]
    pub act_as: Option<String>,
    /// Grid codes the minted token's scope covers (with --as; repeat for several).
    #[arg(long = "as-grid", value_name = "CODE", global = true)]
    pub as_grids: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Submit a ticket (发现) from a channel.
    #[command(subcommand)]
    Submit(Submit),
    /// Look tickets up (intake's view).
    #[command(subcommand)]
    Ticket(TicketCmd),
    /// One-key call device registry.
    #[command(subcommand)]
    Device(DeviceCmd),
    /// The grid tree.
    #[command(subcommand)]
    Grid(GridCmd),
    /// Grid workers and the duty roster (AB岗).
    #[command(subcommand)]
    Worker(WorkerCmd),
    /// A grid worker's tasks: list, 签收 accept, 退单 return, 转办 transfer.
    #[command(subcommand)]
    Task(TaskCmd),
    /// 处置: report what was done for a ticket (routing; role: the task's worker).
    Dispose(Dispose),
    /// 好差评: the citizen's rating of a disposal.
    Feedback(Feedback),
    /// 回访: record an operator's callback.
    Callback(Callback),
    /// 销号 by an audited exemption (supervisor).
    Close(Close),
    /// A ticket's audit trail (tracker).
    Timeline(Timeline),
    /// Open tickets past a deadline (tracker).
    Overdue(Overdue),
    /// Indicators per grid, worker, category or channel (reports).
    Report(Report),
    /// Mint a local-stack token for a role (uses GRIDLOOP_JWT_SECRET).
    Token(TokenArgs),
}

// ---- intake -------------------------------------------------------------------------------

#[derive(Debug, Subcommand)]
pub enum Submit {
    /// A 12345 hotline call (role: operator).
    Hotline(Hotline),
    /// A one-key call button press (role: service).
    Onekey(OneKey),
    /// A submission from the app, the mailbox or the web form (role: citizen or service).
    App(AppSubmit),
}

#[derive(Debug, Args)]
pub struct Hotline {
    /// The 12345 work order number (工单号); the idempotency key.
    #[arg(long)]
    pub external_id: String,
    /// The operator who took the call (defaults to the token's subject with --as).
    #[arg(long)]
    pub operator: Option<String>,
    /// The caller's phone.
    #[arg(long)]
    pub phone: String,
    /// The caller's name.
    #[arg(long)]
    pub name: Option<String>,
    /// Address as the caller described it.
    #[arg(long, default_value = "")]
    pub address: String,
    /// Grid code the operator picked.
    #[arg(long, default_value = "")]
    pub grid: String,
    /// Category code (e.g. environment, neighbor_dispute).
    #[arg(long)]
    pub category: String,
    /// Urgency; the category's default when omitted.
    #[arg(long, value_enum)]
    pub urgency: Option<UrgencyArg>,
    /// The operator's summary of the call.
    #[arg(long)]
    pub content: String,
    /// URL of the call recording.
    #[arg(long, default_value = "")]
    pub recording_url: String,
    /// When the call was received (default now).
    #[arg(long, value_parser = parse_instant)]
    pub received_at: Option<Instant>,
}

#[derive(Debug, Args)]
pub struct OneKey {
    /// The registered device.
    #[arg(long)]
    pub device: String,
    /// The gateway's id of this press; the idempotency key.
    #[arg(long)]
    pub press_id: String,
    /// When the button was pressed (default now).
    #[arg(long, value_parser = parse_instant)]
    pub pressed_at: Option<Instant>,
    /// URL of a voice note.
    #[arg(long, default_value = "")]
    pub voice_note: String,
}

#[derive(Debug, Args)]
pub struct AppSubmit {
    /// Which citizen channel.
    #[arg(long, value_enum, default_value = "app")]
    pub channel: AppChannel,
    /// The submitting system's id; the idempotency key.
    #[arg(long)]
    pub submission_id: String,
    /// The citizen's phone.
    #[arg(long)]
    pub phone: String,
    /// The citizen's name.
    #[arg(long)]
    pub name: Option<String>,
    /// The grievance.
    #[arg(long)]
    pub content: String,
    /// Category code.
    #[arg(long)]
    pub category: String,
    /// Photo URL (repeat for several, at most 9).
    #[arg(long = "photo")]
    pub photos: Vec<String>,
    /// GPS latitude (with --lng).
    #[arg(long, requires = "lng", allow_negative_numbers = true)]
    pub lat: Option<f64>,
    /// GPS longitude (with --lat).
    #[arg(long, requires = "lat", allow_negative_numbers = true)]
    pub lng: Option<f64>,
    /// Address as text (a point or an address is required).
    #[arg(long, default_value = "")]
    pub address: String,
    /// When the citizen submitted it (default now).
    #[arg(long, value_parser = parse_instant)]
    pub submitted_at: Option<Instant>,
}

#[derive(Debug, Subcommand)]
pub enum TicketCmd {
    /// One ticket with its short history (role: operator, supervisor, citizen).
    Show {
        /// The ticket id.
        ticket_id: String,
    },
    /// The open and recent tickets of a phone number (role: operator).
    Find {
        /// Phone number, exact match.
        #[arg(long)]
        phone: String,
        /// Include closed tickets received within this many days (server default 30).
        #[arg(long, default_value_t = 0)]
        recent_days: u32,
        #[command(flatten)]
        page: Paging,
    },
}

#[derive(Debug, Subcommand)]
pub enum DeviceCmd {
    /// Register a one-key call device for a household (role: admin, supervisor).
    Add(DeviceAdd),
    /// Devices of a grid subtree (role: admin, supervisor).
    List {
        /// Root of the grid subtree; all grids in scope when omitted.
        #[arg(long, default_value = "")]
        grid: String,
        /// Include deactivated devices.
        #[arg(long)]
        include_inactive: bool,
        #[command(flatten)]
        page: Paging,
    },
    /// Deactivate a device; its presses are refused afterwards (role: admin, supervisor).
    Deactivate {
        /// The device id.
        device_id: String,
        /// Why (e.g. "household moved").
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Args)]
pub struct DeviceAdd {
    /// The device id (new).
    #[arg(long)]
    pub device: String,
    /// The household's address.
    #[arg(long)]
    pub address: String,
    /// The household's grid code.
    #[arg(long)]
    pub grid: String,
    /// Contact phone (kept by intake only).
    #[arg(long)]
    pub phone: String,
    /// Contact name (kept by intake only).
    #[arg(long)]
    pub name: String,
    /// Household flag (repeat for several).
    #[arg(long = "flag", value_enum)]
    pub flags: Vec<FlagArg>,
    /// GPS latitude (with --lng).
    #[arg(long, requires = "lng", allow_negative_numbers = true)]
    pub lat: Option<f64>,
    /// GPS longitude (with --lat).
    #[arg(long, requires = "lat", allow_negative_numbers = true)]
    pub lng: Option<f64>,
}

// ---- routing ------------------------------------------------------------------------------

#[derive(Debug, Subcommand)]
pub enum GridCmd {
    /// Import a grid tree from a JSON or CSV file, in UpsertGrid batches (role: admin,
    /// supervisor). See the README for the formats.
    Import {
        /// The file; `-` reads standard input.
        file: String,
        /// File format; guessed from the extension when omitted.
        #[arg(long, value_enum)]
        format: Option<GridFormat>,
        /// Grids per UpsertGrid call (1..5000); each batch is one transaction.
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=5000))]
        batch: u32,
        /// Parse and check the file, send nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// A grid subtree (any staff role).
    List {
        /// Root of the subtree; the whole tree when omitted.
        #[arg(long, default_value = "")]
        root: String,
        /// Levels below the root to include (0 = all).
        #[arg(long, default_value_t = 0)]
        depth: u32,
        /// Only grids of this level.
        #[arg(long, value_enum)]
        level: Option<LevelArg>,
        #[command(flatten)]
        page: Paging,
    },
}

#[derive(Debug, Subcommand)]
pub enum WorkerCmd {
    /// Create or change a worker and their posts, by staff number (role: admin, supervisor).
    Add(WorkerAdd),
    /// Workers of a grid subtree (role: admin, supervisor).
    List {
        /// Root of the grid subtree.
        #[arg(long, default_value = "")]
        grid: String,
        /// Only this role.
        #[arg(long, value_enum)]
        role: Option<WorkerRoleArg>,
        /// Only workers on duty now.
        #[arg(long)]
        on_duty: bool,
        #[command(flatten)]
        page: Paging,
    },
    /// Set a worker on or off duty, a leave, or the capacity (role: admin, supervisor).
    Duty(Duty),
}

#[derive(Debug, Args)]
pub struct WorkerAdd {
    /// Staff number (工号), the natural key.
    #[arg(long)]
    pub staff_no: String,
    /// Name.
    #[arg(long)]
    pub name: String,
    /// Role.
    #[arg(long, value_enum, default_value = "worker")]
    pub role: WorkerRoleArg,
    /// Phone (kept by routing, masked elsewhere).
    #[arg(long, default_value = "")]
    pub phone: String,
    /// A post as GRID:A or GRID:B (repeat; replaces the worker's posts).
    #[arg(long = "post", value_parser = parse_post)]
    pub posts: Vec<(String, PostArg)>,
    /// For a chief: the grid they lead.
    #[arg(long, default_value = "")]
    pub chief_of: String,
    /// Maximum open tasks (0 = no limit).
    #[arg(long, default_value_t = 0)]
    pub capacity: u32,
}

#[derive(Debug, Args)]
pub struct Duty {
    /// The worker id.
    pub worker_id: String,
    /// Put the worker on duty.
    #[arg(long, conflicts_with = "off")]
    pub on: bool,
    /// Take the worker off duty.
    #[arg(long)]
    pub off: bool,
    /// Leave start (with --leave-until).
    #[arg(long, requires = "leave_until", value_parser = parse_instant)]
    pub leave_from: Option<Instant>,
    /// Leave end.
    #[arg(long, requires = "leave_from", value_parser = parse_instant)]
    pub leave_until: Option<Instant>,
    /// New capacity (max open tasks).
    #[arg(long)]
    pub capacity: Option<u32>,
    /// Why (shown in dispatch reasons, e.g. 病假).
    #[arg(long, default_value = "")]
    pub reason: String,
}

#[derive(Debug, Subcommand)]
pub enum TaskCmd {
    /// The caller's tasks; a supervisor's with --worker or --grid (role: worker, supervisor).
    List {
        /// Only these states (repeat); the open states when omitted.
        #[arg(long = "state", value_enum)]
        states: Vec<TaskStateArg>,
        /// Only this kind.
        #[arg(long, value_enum)]
        kind: Option<TaskKindArg>,
        /// Supervisors: this worker's tasks.
        #[arg(long, default_value = "")]
        worker: String,
        /// Supervisors: every task in this grid subtree.
        #[arg(long, default_value = "")]
        grid: String,
        #[command(flatten)]
        page: Paging,
    },
    /// 签收: accept a task (role: the task's worker).
    Accept {
        /// The ticket id.
        ticket_id: String,
    },
    /// 退单: send a task back with a reason (role: the task's worker).
    Return {
        /// The ticket id.
        ticket_id: String,
        /// Why.
        #[arg(long, value_enum)]
        reason: ReturnReasonArg,
        /// Free text (required with --reason other).
        #[arg(long, default_value = "")]
        text: String,
    },
    /// 转办: move a ticket to another grid (role: the task's worker, supervisor).
    Transfer {
        /// The ticket id.
        ticket_id: String,
        /// Grid to move it to.
        #[arg(long = "to")]
        to_grid: String,
        /// Why.
        #[arg(long)]
        reason: String,
    },
}

// ---- disposal (routing) and closure -------------------------------------------------------

#[derive(Debug, Args)]
pub struct Dispose {
    /// The ticket id.
    pub ticket_id: String,
    /// What the disposal achieved.
    #[arg(long = "type", value_enum)]
    pub disposal_type: DisposalArg,
    /// What was done.
    #[arg(long)]
    pub result: String,
    /// Evidence photo URL (repeat; at least one for resolved).
    #[arg(long = "evidence")]
    pub evidence: Vec<String>,
    /// When it was done (default now).
    #[arg(long, value_parser = parse_instant)]
    pub at: Option<Instant>,
    /// Why it cannot be resolved (required for unresolvable).
    #[arg(long, default_value = "")]
    pub unresolvable_reason: String,
}

#[derive(Debug, Args)]
pub struct Feedback {
    /// The ticket id.
    pub ticket_id: String,
    /// The rating.
    #[arg(long, value_enum)]
    pub rating: RatingArg,
    /// Comment.
    #[arg(long, default_value = "")]
    pub comment: String,
}

#[derive(Debug, Args)]
pub struct Callback {
    /// The ticket id.
    pub ticket_id: String,
    /// The citizen was not reached.
    #[arg(long)]
    pub unreached: bool,
    /// The citizen's rating (required unless --unreached).
    #[arg(
        long,
        value_enum,
        required_unless_present = "unreached",
        conflicts_with = "unreached"
    )]
    pub rating: Option<RatingArg>,
    /// The operator's notes.
    #[arg(long, default_value = "")]
    pub notes: String,
    /// When the call was made (default now).
    #[arg(long, value_parser = parse_instant)]
    pub at: Option<Instant>,
}

#[derive(Debug, Args)]
pub struct Close {
    /// The ticket id.
    pub ticket_id: String,
    /// Kind of exemption.
    #[arg(long, value_enum)]
    pub kind: ExemptionArg,
    /// Why.
    #[arg(long)]
    pub reason: String,
}

// ---- tracker ------------------------------------------------------------------------------

#[derive(Debug, Args)]
pub struct Timeline {
    /// The ticket id.
    pub ticket_id: String,
    #[command(flatten)]
    pub page: Paging,
}

#[derive(Debug, Args)]
pub struct Overdue {
    /// Root of the grid subtree.
    #[arg(long, default_value = "")]
    pub grid: String,
    /// Only this deadline.
    #[arg(long, value_enum)]
    pub kind: Option<DeadlineArg>,
    #[command(flatten)]
    pub page: Paging,
}

// ---- reports ------------------------------------------------------------------------------

#[derive(Debug, Args)]
pub struct Report {
    /// What the rows are.
    #[arg(long, value_enum, default_value = "none")]
    pub by: ByArg,
    /// Period containing --date (default today).
    #[arg(long, value_enum, default_value = "month", conflicts_with_all = ["from", "to"])]
    pub period: PeriodArg,
    /// A date inside the period, YYYY-MM-DD (default today).
    #[arg(long, value_parser = parse_date)]
    pub date: Option<chrono::NaiveDate>,
    /// Custom range start, YYYY-MM-DD (with --to).
    #[arg(long, requires = "to", value_parser = parse_date)]
    pub from: Option<chrono::NaiveDate>,
    /// Custom range end, inclusive (with --from).
    #[arg(long, requires = "from", value_parser = parse_date)]
    pub to: Option<chrono::NaiveDate>,
    /// Root of the grid subtree (e.g. a town); the whole county when omitted.
    #[arg(long, default_value = "")]
    pub grid: String,
    /// Only this category (repeat).
    #[arg(long = "category")]
    pub categories: Vec<String>,
    /// Only this channel (repeat).
    #[arg(long = "channel", value_enum)]
    pub channels: Vec<ChannelArg>,
    /// Only tickets held by this worker.
    #[arg(long, default_value = "")]
    pub worker: String,
    /// Print the server's CSV export instead of a table.
    #[arg(long)]
    pub csv: bool,
}

// ---- token --------------------------------------------------------------------------------

#[derive(Debug, Args)]
pub struct TokenArgs {
    /// The role.
    #[arg(long, value_enum)]
    pub role: RoleArg,
    /// Subject: staff id, worker id, service name or citizen key (default ctl-<role>).
    #[arg(long)]
    pub sub: Option<String>,
    /// Grid code the scope covers (repeat).
    #[arg(long = "grid")]
    pub grids: Vec<String>,
    /// Lifetime: seconds, or with a unit (30m, 8h, 7d).
    #[arg(long, default_value = "8h", value_parser = parse_ttl)]
    pub ttl: i64,
}

// ---- shared -------------------------------------------------------------------------------

/// How many rows a list command fetches (following page tokens).
#[derive(Debug, Args, Clone, Copy)]
pub struct Paging {
    /// Stop after this many rows.
    #[arg(long, default_value_t = 200)]
    pub limit: usize,
}
