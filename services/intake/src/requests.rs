//! Each channel's request turned into one validated [`Submission`]: fields checked (each
//! failure names its field), the category looked up in the catalogue, urgency defaulted and
//! raised by household flags, the phone normalised and keyed.

use chrono::{DateTime, Utc};
use gridloop_platform::ApiError;
use gridloop_platform::auth::Caller;
use gridloop_proto::v1::{
    ActorRole, Channel, HouseholdFlag, ReportPatrolFindingRequest, SubmitAppTicketRequest,
    SubmitHotlineTicketRequest, SubmitOneKeyCallRequest, Urgency,
};
use sqlx::PgPool;

use crate::categories::Catalogue;
use crate::devices;
use crate::domain::{self, Phone};
use crate::settings::IntakeSettings;
use crate::submit::{Contact, Household, Submission, Submitter};

fn contact(settings: &IntakeSettings, phone: Phone, name: Option<String>) -> Contact {
    Contact {
        citizen_key: settings.keys.citizen_key(&phone),
        phone,
        name: name.filter(|n| !n.is_empty()),
    }
}

pub async fn hotline(
    catalogue: &Catalogue,
    settings: &IntakeSettings,
    req: &SubmitHotlineTicketRequest,
    now: DateTime<Utc>,
) -> Result<Submission, ApiError> {
    let external_id = domain::id("external_id", &req.external_id)?;
    let operator_id = domain::id("operator_id", &req.operator_id)?;
    let phone = Phone::parse("caller_phone", &req.caller_phone)?;
    let name = req
        .caller_name
        .as_deref()
        .map(|n| domain::name("caller_name", n))
        .transpose()?;
    let address = domain::address("address", &req.address)?;
    let grid_code = domain::grid_code("grid_code", &req.grid_code)?;
    let urgency = domain::urgency("urgency", req.urgency)?;
    let content = domain::content("content", &req.content)?;
    let recording_url = domain::url("recording_url", &req.recording_url)?;
    let received_at = domain::time("received_at", req.received_at.as_ref(), now)?;
    let category = catalogue
        .active("category_code", &req.category_code)
        .await?;
    Ok(Submission {
        channel: Channel::Hotline12345,
        external_id,
        urgency: urgency.unwrap_or(category.default_urgency),
        category_code: category.code,
        category_name: category.name,
        content,
        contact: Some(contact(settings, phone, name)),
        household: None,
        address,
        grid_code,
        point: None,
        photo_urls: vec![],
        recording_url,
        submitted_by: Some(Submitter {
            id: operator_id,
            role: ActorRole::Operator,
        }),
        received_at,
    })
}

/// A press: the household comes from the registry. The registry is looked up after the
/// request's own fields are checked, so bad input is `INVALID_ARGUMENT` even for unknown
/// devices.
pub async fn one_key(
    pool: &PgPool,
    catalogue: &Catalogue,
    settings: &IntakeSettings,
    req: &SubmitOneKeyCallRequest,
    now: DateTime<Utc>,
) -> Result<Submission, ApiError> {
    let device_id = domain::id("device_id", &req.device_id)?;
    let press_id = domain::id("press_id", &req.press_id)?;
    let pressed_at = domain::time("pressed_at", req.pressed_at.as_ref(), now)?;
    let voice_note_url = domain::url("voice_note_url", &req.voice_note_url)?;
    let device = devices::for_press(pool, &device_id).await?;
    let category = catalogue
        .active("category_code", &settings.one_key_category)
        .await
        .map_err(|_| {
            ApiError::precondition(
                format!(
                    "one-key category {} is not in the catalogue",
                    settings.one_key_category
                ),
                "CATALOGUE",
            )
        })?;
    // 独居老人: a press may be a fall or a stroke; it goes out as urgent whatever the default.
    let urgency = if device.flags.contains(&HouseholdFlag::ElderlyLivingAlone) {
        Urgency::Urgent
    } else {
        category.default_urgency
    };
    let name = Some(device.contact_name.clone());
    Ok(Submission {
        channel: Channel::OneKeyCall,
        // The contract makes the press id alone the key within the channel.
        external_id: press_id,
        category_code: category.code,
        category_name: category.name,
        urgency,
        content: String::new(),
        contact: Some(contact(settings, device.contact_phone.clone(), name)),
        household: Some(Household {
            key: device.household_key.clone(),
            device_id: device.device_id.clone(),
            flags: device.flags.clone(),
        }),
        address: device.address.clone(),
        grid_code: device.grid_code.clone(),
        point: device.point,
        photo_urls: vec![],
        recording_url: voice_note_url,
        submitted_by: None,
        received_at: pressed_at,
    })
}

/// App, mailbox or web form. A citizen may only submit for their own phone (their token's
/// subject is their citizen key).
pub async fn app(
    catalogue: &Catalogue,
    settings: &IntakeSettings,
    caller: &Caller,
    req: &SubmitAppTicketRequest,
    now: DateTime<Utc>,
) -> Result<Submission, ApiError> {
    let channel = match Channel::try_from(req.channel) {
        Ok(Channel::Unspecified) => Channel::App,
        Ok(c @ (Channel::App | Channel::Mailbox | Channel::Web)) => c,
        _ => return Err(ApiError::invalid("channel", "must be APP, MAILBOX or WEB")),
    };
    let external_id = domain::id("submission_id", &req.submission_id)?;
    let phone = Phone::parse("citizen_phone", &req.citizen_phone)?;
    let name = req
        .citizen_name
        .as_deref()
        .map(|n| domain::name("citizen_name", n))
        .transpose()?;
    let content = domain::content("content", &req.content)?;
    let photo_urls = domain::urls("photo_urls", &req.photo_urls)?;
    let point = domain::point("point", req.point.as_ref())?;
    let address = domain::address("address", &req.address)?;
    if point.is_none() && address.is_empty() {
        return Err(ApiError::invalid(
            "address",
            "a point or an address is required",
        ));
    }
    let received_at = domain::time("submitted_at", req.submitted_at.as_ref(), now)?;
    let category = catalogue
        .active("category_code", &req.category_code)
        .await?;
    let contact = contact(settings, phone, name);
    if caller.role == gridloop_platform::auth::Role::Citizen
        && caller.subject != contact.citizen_key
    {
        return Err(ApiError::PermissionDenied(
            "a citizen may submit only for their own phone".into(),
        ));
    }
    Ok(Submission {
        channel,
        external_id,
        urgency: category.default_urgency,
        category_code: category.code,
        category_name: category.name,
        content,
        contact: Some(contact),
        household: None,
        address,
        grid_code: String::new(),
        point,
        photo_urls,
        recording_url: String::new(),
        submitted_by: None,
        received_at,
    })
}

/// A worker's patrol finding, in one of the grids their token covers.
pub async fn patrol(
    catalogue: &Catalogue,
    caller: &Caller,
    req: &ReportPatrolFindingRequest,
    now: DateTime<Utc>,
) -> Result<Submission, ApiError> {
    let external_id = domain::id("finding_id", &req.finding_id)?;
    let grid_code = domain::grid_code("grid_code", &req.grid_code)?;
    if grid_code.is_empty() {
        return Err(ApiError::invalid("grid_code", "required"));
    }
    let urgency = domain::urgency("urgency", req.urgency)?;
    let content = domain::content("content", &req.content)?;
    let photo_urls = domain::urls("photo_urls", &req.photo_urls)?;
    let location = req.location.clone().unwrap_or_default();
    let point = domain::point("location.point", location.point.as_ref())?;
    let address = domain::address("location.address", &location.address)?;
    let found_at = domain::time("found_at", req.found_at.as_ref(), now)?;
    let category = catalogue
        .active("category_code", &req.category_code)
        .await?;
    if !caller.grids.contains(&grid_code) {
        return Err(ApiError::PermissionDenied(format!(
            "grid {grid_code} is not one of the worker's grids"
        )));
    }
    Ok(Submission {
        channel: Channel::Patrol,
        external_id,
        urgency: urgency.unwrap_or(category.default_urgency),
        category_code: category.code,
        category_name: category.name,
        content,
        contact: None,
        household: None,
        address,
        grid_code,
        point,
        photo_urls,
        recording_url: String::new(),
        submitted_by: Some(Submitter {
            id: caller.subject.clone(),
            role: ActorRole::Worker,
        }),
        received_at: found_at,
    })
}
