//! A citizen signs in with an ID number and a one-time code sent to the phone
//! registered for it. The answer to "send me a code" is the same whether the
//! number is registered or not: a code is made, throttled and put on record
//! for any valid ID number, and sent only where there is a phone to send it
//! to, so neither the answer nor its limits tell who is on the registers.
//! Every step is audited under the person's hash, never the number.

use chrono::{DateTime, Duration, Utc};
use rongshu_core::audit::AuditRecord;
use rongshu_core::ident::{CitizenId, CitizenIdError};
use rongshu_core::otp::{CodeRefused, IssueRefused, IssuedCode, OneTimeCode};
use rongshu_core::people::PersonHash;
use rongshu_store::{NewCitizenCode, NewCitizenSession};
use serde_json::json;

use crate::auth::citizen::CITIZEN_COOKIE;
use crate::auth::token;
use crate::citizen::phone::registered_phone;
use crate::error::ApiError;
use crate::people::person_key;
use crate::state::AppState;

/// Why a citizen could not ask for a code or sign in, in words to act on.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error("id_number: {0}")]
    BadId(CitizenIdError),
    #[error("code: the code has 6 digits")]
    BadCode,
    #[error("citizen sign-in is not available here: no short-message gateway is configured")]
    Unavailable,
    #[error("{0}")]
    Throttled(IssueRefused),
    #[error("the code is wrong or has expired; ask for a new one")]
    WrongCode,
    #[error("the code was tried too many times; ask for a new one")]
    CodeSpent,
    #[error(transparent)]
    Api(#[from] ApiError),
}

impl From<SignInError> for ApiError {
    fn from(e: SignInError) -> Self {
        match e {
            SignInError::BadId(_) | SignInError::BadCode => ApiError::BadRequest(e.to_string()),
            SignInError::Unavailable => ApiError::Unavailable(e.to_string()),
            SignInError::Throttled(_) | SignInError::CodeSpent => {
                ApiError::TooManyRequests(e.to_string())
            }
            SignInError::WrongCode => ApiError::Unauthorized(e.to_string()),
            SignInError::Api(e) => e,
        }
    }
}

impl From<rongshu_store::StoreError> for SignInError {
    fn from(e: rongshu_store::StoreError) -> Self {
        SignInError::Api(e.into())
    }
}

/// A code was asked for.
#[derive(Debug)]
pub struct CodeAsked {
    /// The code itself, only where codes are shown on screen (the demo).
    pub shown: Option<OneTimeCode>,
    /// Seconds it is good for.
    pub expires_in: i64,
}

/// A citizen signed in: the session's cookie value and CSRF token.
#[derive(Debug)]
pub struct CitizenSignIn {
    pub session_id: String,
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
}

impl CitizenSignIn {
    pub fn cookie(&self, state: &AppState) -> String {
        let secure = if state.config.secure_cookies {
            "; Secure"
        } else {
            ""
        };
        format!(
            "{CITIZEN_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
            self.session_id,
            state.config.citizen.session_minutes * 60
        )
    }
}

/// The cookie that ends a citizen's session in the browser.
pub const CLEAR_COOKIE: &str = "rongshu_citizen=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0";

/// An audit event about a citizen: the person is named by hash only.
pub(crate) fn citizen_event(
    now: DateTime<Utc>,
    action: &str,
    person: &PersonHash,
    detail: serde_json::Value,
) -> AuditRecord {
    AuditRecord {
        at: now.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        actor: "citizen".into(),
        department: None,
        action: action.into(),
        target: Some(format!("person:{person}")),
        resource: None,
        rows: None,
        detail,
    }
}

fn parse_id(raw: &str) -> Result<CitizenId, SignInError> {
    // Typed by people: full-width digits and stray spaces are theirs to make.
    let text = crate::exchange::verify::normalise(raw);
    CitizenId::parse(&text).map_err(SignInError::BadId)
}

/// Make a code for the person of `raw_id` and send it to their registered phone.
pub async fn ask_for_code(state: &AppState, raw_id: &str) -> Result<CodeAsked, SignInError> {
    let config = &state.config.citizen;
    let id = parse_id(raw_id)?;
    if config.sender.is_none() && !config.show_codes {
        return Err(SignInError::Unavailable);
    }
    let now = state.clock.now();
    let person = person_key(state).await?.of(&id);
    let issued = state
        .store
        .citizen_codes_issued_since(&person, now - Duration::hours(1))
        .await?;
    config
        .codes
        .may_issue(now, &issued)
        .map_err(SignInError::Throttled)?;
    let code = OneTimeCode::from_random(rand::random::<u64>());
    let salt = token::random_secret();
    let code_hash = code.hash(&salt);
    let phone = registered_phone(state, &id).await?;
    let audit = citizen_event(
        now,
        "citizen.code",
        &person,
        json!({ "delivered": phone.is_some() && config.sender.is_some() }),
    );
    state
        .store
        .create_citizen_code(
            NewCitizenCode {
                person: &person,
                salt: &salt,
                code_hash: &code_hash,
                created_at: now,
                expires_at: now + config.codes.ttl,
            },
            &audit,
        )
        .await?;
    if let (Some(phone), Some(sender)) = (phone, config.sender.clone()) {
        // Sent after the answer, not before it: a gateway's delay (or error)
        // only for registered numbers would tell who is registered. A failure
        // is said in the log.
        let code = code.clone();
        tokio::spawn(async move {
            if let Err(e) = sender.send(&phone, &code).await {
                tracing::error!(error = %e, "a citizen's sign-in code was not sent");
            }
        });
    }
    Ok(CodeAsked {
        shown: config.show_codes.then_some(code),
        expires_in: config.codes.ttl.num_seconds(),
    })
}

/// Check the code and open a citizen session.
pub async fn sign_in(
    state: &AppState,
    raw_id: &str,
    raw_code: &str,
) -> Result<CitizenSignIn, SignInError> {
    let config = &state.config.citizen;
    let id = parse_id(raw_id)?;
    let presented = OneTimeCode::parse(raw_code).map_err(|_| SignInError::BadCode)?;
    let now = state.clock.now();
    let person = person_key(state).await?.of(&id);
    let code = state.store.latest_citizen_code(&person).await?;
    let issued = code.as_ref().map(|c| IssuedCode {
        expires_at: c.expires_at,
        attempts: c.attempts,
        used: c.used,
    });
    let refused = |why: &str| {
        citizen_event(
            now,
            "citizen.login_failed",
            &person,
            json!({ "reason": why }),
        )
    };
    let checked = config.codes.may_try(now, issued.as_ref());
    let code = match (checked, code) {
        (Ok(()), Some(code)) => code,
        (Err(CodeRefused::Exhausted), _) => {
            state.audit.record(refused("tries_spent")).await?;
            return Err(SignInError::CodeSpent);
        }
        _ => {
            state.audit.record(refused("no_fresh_code")).await?;
            return Err(SignInError::WrongCode);
        }
    };
    // The try is counted before the code is compared, in one statement, so
    // guesses sent at once cannot get past the limit.
    if !state
        .store
        .spend_citizen_code_try(code.id, config.codes.max_attempts)
        .await?
    {
        state.audit.record(refused("tries_spent")).await?;
        return Err(SignInError::CodeSpent);
    }
    if !presented.matches(&code.salt, &code.code_hash) {
        state.audit.record(refused("wrong_code")).await?;
        return Err(SignInError::WrongCode);
    }
    let session_id = token::random_secret();
    let csrf_token = token::random_secret();
    let expires_at = now + Duration::minutes(config.session_minutes);
    let opened = state
        .store
        .use_citizen_code(
            code.id,
            &NewCitizenSession {
                token_hash: &token::hash(&session_id),
                person: &person,
                csrf_token: &csrf_token,
                created_at: now,
                expires_at,
            },
            &citizen_event(now, "citizen.login", &person, json!({})),
        )
        .await?;
    if !opened {
        // Used by a sign-in that got there first: one code, one session.
        return Err(SignInError::WrongCode);
    }
    Ok(CitizenSignIn {
        session_id,
        csrf_token,
        expires_at,
    })
}

/// End a citizen's session (its cookie value).
pub async fn sign_out(
    state: &AppState,
    session_id: &str,
    person: &PersonHash,
) -> Result<(), ApiError> {
    let audit = citizen_event(state.clock.now(), "citizen.logout", person, json!({}));
    state
        .store
        .end_citizen_session(&token::hash(session_id), &audit)
        .await?;
    Ok(())
}
