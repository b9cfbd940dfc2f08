//! The server's configuration, one typed struct filled by the binary from flags
//! and `RONGSHU_*` variables.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rongshu_core::net::IpBlock;
use rongshu_core::rate::RateLimit;

/// 6,000 a minute (100 a second, in bursts of a minute's worth): room for a
/// system paging through a resource, not for one gone into a loop.
pub const DEFAULT_APP_RATE_LIMIT: RateLimit = RateLimit::clamped(6_000);
/// What one open API key may call: the public shares one server.
pub const DEFAULT_OPEN_RATE_LIMIT: RateLimit = RateLimit::clamped(600);
use rongshu_core::otp::CodePolicy;

use crate::citizen::OtpSender;

/// Argon2id cost. Production uses the OWASP-recommended figures; tests use a
/// cheap setting so the suite stays fast on two cores.
#[derive(Debug, Clone, Copy)]
pub struct PasswordCost {
    pub memory_kib: u32,
    pub iterations: u32,
}

impl PasswordCost {
    pub const PRODUCTION: PasswordCost = PasswordCost {
        memory_kib: 19 * 1024,
        iterations: 2,
    };
    pub const TEST: PasswordCost = PasswordCost {
        memory_kib: 64,
        iterations: 1,
    };
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub password_cost: PasswordCost,
    /// Largest JSON body accepted.
    pub json_body_limit: usize,
    /// Largest uploaded batch file.
    pub upload_limit: u64,
    pub session_hours: i64,
    /// Failed sign-ins per user name within the window before sign-in is refused.
    pub login_max_failures: i64,
    pub login_window_minutes: i64,
    /// Set the Secure flag on cookies (behind HTTPS).
    pub secure_cookies: bool,
    pub webhooks: WebhookConfig,
    /// Proxies whose `X-Forwarded-For` is believed; from anyone else the
    /// socket's peer address is the caller's, whatever the header says.
    pub trusted_proxies: Vec<IpBlock>,
    /// The rate limit of an application that has none of its own.
    pub app_rate_limit: RateLimit,
    /// The rate limit of each open API key.
    pub open_rate_limit: RateLimit,
    /// How long a rotated application key keeps working.
    pub key_rotation_grace: chrono::Duration,
    /// How often overdue share requests are looked for (reminders and
    /// escalation are once a day at most whatever this is), and published
    /// releases whose data changed outside the server are scanned again.
    pub overdue_sweep_every: Duration,
    pub citizen: CitizenConfig,
}

/// How citizens sign in to see who read their data.
#[derive(Debug, Clone)]
pub struct CitizenConfig {
    /// Show one-time codes on screen and in the API's answer: the demo's
    /// stand-in for a phone. Never set it where real people sign in.
    pub show_codes: bool,
    /// Delivers codes to phones. Without one (and without `show_codes`)
    /// citizen sign-in answers that it is unavailable.
    pub sender: Option<Arc<dyn OtpSender>>,
    /// The resource whose rows give each person's registered mobile, by
    /// code; when unset, the authoritative source of the `person.mobile`
    /// data element is used.
    pub phone_resource: Option<String>,
    pub codes: CodePolicy,
    /// A citizen's session lasts this long: short, the page shows personal data.
    pub session_minutes: i64,
}

impl Default for CitizenConfig {
    fn default() -> Self {
        Self {
            show_codes: false,
            sender: None,
            phone_resource: None,
            codes: CodePolicy::default(),
            session_minutes: 30,
        }
    }
}

/// How the webhook worker delivers.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// The first retry waits this long; each failure in a row doubles it…
    pub retry_base: Duration,
    /// …up to this.
    pub retry_cap: Duration,
    /// How often the worker looks for due work besides being woken: batches
    /// loaded by another process or the command line, and retries falling due.
    pub poll_every: Duration,
    /// Changes per POST.
    pub batch_size: i64,
    /// How long a receiver has to answer one POST.
    pub timeout: Duration,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            retry_base: Duration::from_secs(1),
            retry_cap: Duration::from_secs(10 * 60),
            poll_every: Duration::from_secs(2),
            batch_size: 500,
            timeout: Duration::from_secs(10),
        }
    }
}

impl ServerConfig {
    pub fn new(listen: SocketAddr, data_dir: PathBuf) -> Self {
        Self {
            listen,
            data_dir,
            password_cost: PasswordCost::PRODUCTION,
            json_body_limit: 1024 * 1024,
            upload_limit: 64 * 1024 * 1024 * 1024,
            session_hours: 12,
            login_max_failures: 5,
            login_window_minutes: 15,
            secure_cookies: false,
            webhooks: WebhookConfig::default(),
            trusted_proxies: Vec::new(),
            app_rate_limit: DEFAULT_APP_RATE_LIMIT,
            open_rate_limit: DEFAULT_OPEN_RATE_LIMIT,
            key_rotation_grace: chrono::Duration::hours(24),
            overdue_sweep_every: Duration::from_secs(10 * 60),
            citizen: CitizenConfig::default(),
        }
    }
}
