//! The one-key call device registry: which household a button belongs to, its address, grid,
//! contact and flags. Admins manage every device; supervisors those in their grid subtrees.
//!
//! Grid subtrees are matched by code prefix: gridloop's grid codes are administrative
//! division codes, where a child's code extends its parent's (intake does not hold the grid
//! tree; routing does).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use gridloop_platform::ApiError;
use gridloop_platform::auth::{Caller, Role};
use gridloop_proto::v1::{
    Device, GeoPoint, HouseholdFlag, ListDevicesRequest, MaskedContact, RegisterDeviceRequest,
    UpdateDeviceRequest,
};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};

use crate::domain::{self, Phone, mask_name};
use crate::settings::CitizenKeys;
use crate::stored::HOUSEHOLD_FLAG;

/// A device as stored, phone and name included: never leaves intake unmasked.
#[derive(Clone, Debug)]
pub struct DeviceRow {
    pub device_id: String,
    pub household_key: String,
    pub address: String,
    pub grid_code: String,
    pub contact_phone: Phone,
    pub contact_name: String,
    pub flags: Vec<HouseholdFlag>,
    pub point: Option<GeoPoint>,
    pub active: bool,
    pub registered_at: chrono::DateTime<chrono::Utc>,
    pub deactivated_at: Option<chrono::DateTime<chrono::Utc>>,
    pub deactivation_reason: String,
}

macro_rules! columns {
    () => {
        "device_id, household_key, address, grid_code, contact_phone, contact_name, flags, lat, \
         lng, active, registered_at, deactivated_at, deactivation_reason"
    };
}

fn from_row(r: &PgRow) -> Result<DeviceRow, ApiError> {
    let phone: String = r.get("contact_phone");
    let flags: Vec<String> = r.get("flags");
    let lat: Option<f64> = r.get("lat");
    let lng: Option<f64> = r.get("lng");
    Ok(DeviceRow {
        device_id: r.get("device_id"),
        household_key: r.get("household_key"),
        address: r.get("address"),
        grid_code: r.get("grid_code"),
        // Stored normalised, so it parses; a failure means the row was edited by hand.
        contact_phone: Phone::parse("contact_phone", &phone)
            .map_err(|_| ApiError::internal("stored device phone does not parse"))?,
        contact_name: r.get("contact_name"),
        flags: HOUSEHOLD_FLAG
            .parse_all(&flags)
            .into_iter()
            .filter_map(|f| HouseholdFlag::try_from(f).ok())
            .collect(),
        point: lat.zip(lng).map(|(lat, lng)| GeoPoint { lat, lng }),
        active: r.get("active"),
        registered_at: r.get("registered_at"),
        deactivated_at: r.get("deactivated_at"),
        deactivation_reason: r.get("deactivation_reason"),
    })
}

impl DeviceRow {
    pub fn to_proto(&self, keys: &CitizenKeys) -> Device {
        Device {
            device_id: self.device_id.clone(),
            household_key: self.household_key.clone(),
            address: self.address.clone(),
            grid_code: self.grid_code.clone(),
            contact: Some(MaskedContact {
                masked_phone: self.contact_phone.masked(),
                citizen_key: keys.citizen_key(&self.contact_phone),
            }),
            masked_name: mask_name(&self.contact_name),
            flags: self.flags.iter().map(|f| *f as i32).collect(),
            active: self.active,
            registered_at: Some(gridloop_proto::ts(self.registered_at)),
            deactivated_at: self.deactivated_at.map(gridloop_proto::ts),
            deactivation_reason: self.deactivation_reason.clone(),
            point: self.point,
        }
    }
}

/// Whether `caller` may manage devices of `grid`: admins everywhere, supervisors within
/// their subtrees.
pub fn in_scope(caller: &Caller, grid: &str) -> bool {
    caller.role == Role::Admin || caller.covers(grid)
}

fn require_scope(caller: &Caller, grid: &str) -> Result<(), ApiError> {
    if in_scope(caller, grid) {
        Ok(())
    } else {
        Err(ApiError::PermissionDenied(format!(
            "grid {grid} is outside the caller's grids"
        )))
    }
}

fn flags(field: &str, raw: &[i32]) -> Result<Vec<HouseholdFlag>, ApiError> {
    let mut out = Vec::new();
    for (i, f) in raw.iter().enumerate() {
        match HouseholdFlag::try_from(*f) {
            Ok(HouseholdFlag::Unspecified) | Err(_) => {
                return Err(ApiError::invalid(
                    format!("{field}[{i}]"),
                    "unknown household flag",
                ));
            }
            Ok(flag) if !out.contains(&flag) => out.push(flag),
            Ok(_) => {}
        }
    }
    Ok(out)
}

fn required(field: &str, v: String) -> Result<String, ApiError> {
    if v.is_empty() {
        Err(ApiError::invalid(field, "required"))
    } else {
        Ok(v)
    }
}

/// The device a press came from: `NOT_FOUND` when unknown, `FAILED_PRECONDITION` when
/// deactivated.
pub async fn for_press(pool: &PgPool, device_id: &str) -> Result<DeviceRow, ApiError> {
    let device = get(pool, device_id).await?;
    if !device.active {
        return Err(ApiError::precondition(
            format!("device {device_id} is deactivated"),
            "DEACTIVATED",
        ));
    }
    Ok(device)
}

pub async fn get(pool: &PgPool, device_id: &str) -> Result<DeviceRow, ApiError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM devices WHERE device_id = $1"
    ))
    .bind(device_id)
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| ApiError::NotFound(format!("device {device_id}")))?;
    from_row(&row)
}

#[tracing::instrument(skip_all, fields(device_id = %req.device_id))]
pub async fn register(
    pool: &PgPool,
    keys: &CitizenKeys,
    caller: &Caller,
    req: &RegisterDeviceRequest,
) -> Result<DeviceRow, ApiError> {
    let device_id = domain::id("device_id", &req.device_id)?;
    let address = required("address", domain::address("address", &req.address)?)?;
    let grid = required("grid_code", domain::grid_code("grid_code", &req.grid_code)?)?;
    let phone = Phone::parse("contact_phone", &req.contact_phone)?;
    let name = required(
        "contact_name",
        domain::name("contact_name", &req.contact_name)?,
    )?;
    let flags = flags("flags", &req.flags)?;
    let point = domain::point("point", req.point.as_ref())?;
    require_scope(caller, &grid)?;
    let flag_names = HOUSEHOLD_FLAG.names(flags.iter().map(|f| *f as i32));
    let row = sqlx::query(concat!(
        "INSERT INTO devices (device_id, household_key, address, grid_code, contact_phone, \
            contact_name, flags, lat, lng) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (device_id) DO NOTHING RETURNING ",
        columns!()
    ))
    .bind(&device_id)
    .bind(keys.household_key(&device_id))
    .bind(&address)
    .bind(&grid)
    .bind(phone.as_str())
    .bind(&name)
    .bind(flag_names)
    .bind(point.map(|p| p.lat))
    .bind(point.map(|p| p.lng))
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| ApiError::AlreadyExists(format!("device {device_id}")))?;
    tracing::info!(grid_code = %grid, "device registered");
    from_row(&row)
}

#[tracing::instrument(skip_all, fields(device_id = %req.device_id))]
pub async fn update(
    pool: &PgPool,
    caller: &Caller,
    req: &UpdateDeviceRequest,
) -> Result<DeviceRow, ApiError> {
    const FIELDS: [&str; 6] = [
        "address",
        "grid_code",
        "contact_phone",
        "contact_name",
        "flags",
        "point",
    ];
    let device_id = domain::id("device_id", &req.device_id)?;
    let paths: Vec<&str> = match &req.update_mask {
        Some(m) if !m.paths.is_empty() => m.paths.iter().map(String::as_str).collect(),
        _ => FIELDS.to_vec(),
    };
    if let Some(bad) = paths.iter().find(|p| !FIELDS.contains(p)) {
        return Err(ApiError::invalid(
            "update_mask",
            format!("unknown field {bad:?}"),
        ));
    }
    let wants = |f: &str| paths.contains(&f);
    // Validate everything first: a bad field changes nothing.
    let address = if wants("address") {
        Some(required(
            "address",
            domain::address("address", &req.address)?,
        )?)
    } else {
        None
    };
    let grid = if wants("grid_code") {
        Some(required(
            "grid_code",
            domain::grid_code("grid_code", &req.grid_code)?,
        )?)
    } else {
        None
    };
    let phone = if wants("contact_phone") {
        Some(Phone::parse("contact_phone", &req.contact_phone)?)
    } else {
        None
    };
    let name = if wants("contact_name") {
        Some(required(
            "contact_name",
            domain::name("contact_name", &req.contact_name)?,
        )?)
    } else {
        None
    };
    let flags = if wants("flags") {
        Some(flags("flags", &req.flags)?)
    } else {
        None
    };
    let point = domain::point("point", req.point.as_ref())?;

    let mut tx = pool.begin().await?;
    let row = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM devices WHERE device_id = $1 FOR UPDATE"
    ))
    .bind(&device_id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| ApiError::NotFound(format!("device {device_id}")))?;
    let mut d = from_row(&row)?;
    require_scope(caller, &d.grid_code)?;
    if !d.active {
        return Err(ApiError::precondition(
            format!("device {device_id} is deactivated"),
            "DEACTIVATED",
        ));
    }
    if let Some(g) = grid {
        require_scope(caller, &g)?;
        d.grid_code = g;
    }
    if let Some(a) = address {
        d.address = a;
    }
    if let Some(p) = phone {
        d.contact_phone = p;
    }
    if let Some(n) = name {
        d.contact_name = n;
    }
    if let Some(f) = flags {
        d.flags = f;
    }
    if wants("point") {
        d.point = point;
    }
    let flag_names = HOUSEHOLD_FLAG.names(d.flags.iter().map(|f| *f as i32));
    let row = sqlx::query(concat!(
        "UPDATE devices SET address = $2, grid_code = $3, contact_phone = $4, contact_name = $5, \
            flags = $6, lat = $7, lng = $8, updated_at = now() WHERE device_id = $1 RETURNING ",
        columns!()
    ))
    .bind(&device_id)
    .bind(&d.address)
    .bind(&d.grid_code)
    .bind(d.contact_phone.as_str())
    .bind(&d.contact_name)
    .bind(flag_names)
    .bind(d.point.map(|p| p.lat))
    .bind(d.point.map(|p| p.lng))
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    tracing::info!(fields = ?paths, "device updated");
    from_row(&row)
}

#[tracing::instrument(skip_all, fields(device_id = %device_id))]
pub async fn deactivate(
    pool: &PgPool,
    caller: &Caller,
    device_id: &str,
    reason: &str,
) -> Result<DeviceRow, ApiError> {
    let device_id = domain::id("device_id", device_id)?;
    let reason = required("reason", domain::text("reason", reason, 500)?)?;
    let current = get(pool, &device_id).await?;
    require_scope(caller, &current.grid_code)?;
    if !current.active {
        return Err(ApiError::precondition(
            format!("device {device_id} is already deactivated"),
            "DEACTIVATED",
        ));
    }
    let row = sqlx::query(concat!(
        "UPDATE devices SET active = false, deactivated_at = now(), deactivation_reason = $2, \
            updated_at = now() WHERE device_id = $1 AND active RETURNING ",
        columns!()
    ))
    .bind(&device_id)
    .bind(&reason)
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| {
        ApiError::precondition(
            format!("device {device_id} is already deactivated"),
            "DEACTIVATED",
        )
    })?;
    tracing::info!("device deactivated");
    from_row(&row)
}

const DEFAULT_PAGE: i64 = 50;
const MAX_PAGE: i64 = 500;

/// Devices of a grid subtree, ordered by grid code then device id, keyset-paginated.
pub async fn list(
    pool: &PgPool,
    caller: &Caller,
    req: &ListDevicesRequest,
) -> Result<(Vec<DeviceRow>, String), ApiError> {
    let grid = domain::grid_code("grid_code", &req.grid_code)?;
    // `None`: every grid (an admin's whole list).
    let roots: Option<Vec<String>> = if !grid.is_empty() {
        require_scope(caller, &grid)?;
        Some(vec![grid])
    } else if caller.role == Role::Admin {
        None
    } else {
        Some(caller.grids.clone())
    };
    let size = match i64::from(req.page_size) {
        n if n <= 0 => DEFAULT_PAGE,
        n => n.min(MAX_PAGE),
    };
    let (after_grid, after_id) = if req.page_token.is_empty() {
        (String::new(), String::new())
    } else {
        B64.decode(&req.page_token)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| {
                s.split_once('\n')
                    .map(|(g, d)| (g.to_owned(), d.to_owned()))
            })
            .ok_or_else(|| ApiError::invalid("page_token", "not a token this server issued"))?
    };
    let rows = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM devices WHERE ($1::text[] IS NULL OR ",
        gridloop_platform::scope_sql!("grid_code", "$1"),
        ") AND (active OR $2) AND (grid_code, device_id) > ($3, $4) \
         ORDER BY grid_code, device_id LIMIT $5"
    ))
    .bind(&roots)
    .bind(req.include_inactive)
    .bind(&after_grid)
    .bind(&after_id)
    .bind(size + 1)
    .fetch_all(pool)
    .await?;
    let mut devices = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
    let next = if devices.len() as i64 > size {
        devices.truncate(size as usize);
        devices
            .last()
            .map(|d| B64.encode(format!("{}\n{}", d.grid_code, d.device_id)))
            .unwrap_or_default()
    } else {
        String::new()
    };
    Ok((devices, next))
}
