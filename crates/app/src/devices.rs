//! Registering a device: what it is, where it stands (located into the
//! territory), which zones it watches, and for a water station its HJ 212
//! identity (`MN`, the sealed `PW`) and the section it samples.

use std::collections::BTreeSet;

use citygrid_domain::access::{Operation, Scope};
use citygrid_domain::{DeviceKind, Point, UnitCode, ZoneKind};
use citygrid_store::{DeviceRecord, StationLink, Store};

use crate::actor::Actor;
use crate::core::{Core, now};
use crate::error::{AppError, AppResult};

/// Shortest and longest device id.
pub const DEVICE_ID_LEN: (usize, usize) = (3, 64);

/// Whether `id` is a valid device id: 3–64 characters of a–z, 0–9, `.`, `_`, `-`.
pub fn valid_device_id(id: &str) -> bool {
    (DEVICE_ID_LEN.0..=DEVICE_ID_LEN.1).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'))
}

/// Most zones one device may watch.
pub const MAX_WATCHED_ZONES: usize = 64;

/// Longest expected reporting interval, in seconds (a week).
pub const MAX_REPORT_INTERVAL_SECS: u32 = 7 * 24 * 3600;

/// Longest HJ 212 station code (`MN`): the standard's 24 characters.
pub const MAX_MN_LEN: usize = 24;

/// Longest HJ 212 access password (`PW`) accepted.
pub const MAX_PW_LEN: usize = 32;

/// A device to register.
#[derive(Debug, Clone)]
pub struct RegisterDevice {
    /// Id (checked by the caller's syntax rules).
    pub id: String,
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: DeviceKind,
    /// Longitude; with `lat`, the position, located into the territory.
    pub lon: Option<f64>,
    /// Latitude.
    pub lat: Option<f64>,
    /// A territory unit, when no position is given (or to check it against).
    pub unit: Option<UnitCode>,
    /// Zones it watches.
    pub zones: Vec<String>,
    /// Water stations: the HJ 212 station code.
    pub mn: Option<String>,
    /// Water stations: the HJ 212 access password (sealed before storing).
    pub pw: Option<String>,
    /// Water stations: the `water_section` zone sampled.
    pub water_section: Option<String>,
    /// The gateway it is registered under.
    pub gateway: Option<String>,
    /// Expected seconds between reports.
    pub report_interval_secs: Option<u32>,
}

/// Whether `mn` is a usable station code: 1–24 ASCII letters, digits or `-`
/// (nothing that could break an HJ 212 data segment).
pub fn valid_mn(mn: &str) -> bool {
    (1..=MAX_MN_LEN).contains(&mn.len()) && mn.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Whether `pw` is a usable HJ 212 password: 1–32 printable ASCII
/// characters, none of the data segment's separators (`;`, `=`, `&`, `,`).
pub fn valid_pw(pw: &str) -> bool {
    (1..=MAX_PW_LEN).contains(&pw.len())
        && pw.bytes().all(|b| b.is_ascii_graphic() && !matches!(b, b';' | b'=' | b'&' | b','))
}

fn invalid(code: &'static str, message: impl Into<String>) -> AppError {
    AppError::rule(code, message)
}

impl<S: Store> Core<S> {
    /// Registers a device (administrators) with the hash of its new API
    /// key. The position is located into the territory (a `unit` given as
    /// well must contain it), watched zones must exist, a water station
    /// needs its `MN` (unique), `PW` (sealed with the keyring, never shown
    /// again) and a `water_section` zone with a target class, a gateway
    /// must be a registered, unrevoked gateway. Audited as `device.create`.
    pub async fn register_device(
        &self,
        actor: &Actor,
        req: RegisterDevice,
        key_hash: String,
    ) -> AppResult<DeviceRecord> {
        let resource = format!("device/{}", req.id);
        self.authorize_actor(actor, Operation::ManageAccounts, &Scope::Global, &resource).await?;
        if !valid_device_id(&req.id) {
            return Err(AppError::invalid("device id must be 3–64 characters of a–z, 0–9, '.', '_' or '-'"));
        }
        let world = self.world();

        let position = match (req.lon, req.lat) {
            (None, None) => None,
            (Some(lon), Some(lat)) => Some(Point::new(lon, lat).ok_or_else(|| AppError::Malformed {
                code: "invalid_point",
                message: "lon must be in −180..180 and lat in −90..90".into(),
            })?),
            _ => {
                return Err(AppError::Malformed { code: "invalid_point", message: "give both lon and lat".into() });
            }
        };
        let unit = match (position, req.unit) {
            (Some(p), given) => {
                let located = world.territory.locate(p).ok_or_else(AppError::outside_territory)?;
                let deepest = located.deepest().cloned().ok_or_else(AppError::outside_territory)?;
                if let Some(u) = given
                    && !u.contains(&deepest)
                {
                    return Err(invalid("unit_mismatch", format!("the position lies in {deepest}, not inside {u}")));
                }
                Some(deepest)
            }
            (None, Some(u)) => {
                if world.territory.get(&u).is_none() {
                    return Err(AppError::invalid(format!("no territory unit {u}")));
                }
                Some(u)
            }
            (None, None) => None,
        };

        let station = match req.kind {
            DeviceKind::WaterStation => {
                let (Some(mn), Some(pw), Some(section)) = (req.mn, req.pw, req.water_section) else {
                    return Err(invalid("station_fields_required", "a water_station needs mn, pw and water_section"));
                };
                if position.is_none() {
                    return Err(invalid("position_required", "a water_station needs its lon and lat"));
                }
                if !valid_mn(&mn) {
                    return Err(invalid("invalid_mn", "mn must be 1–24 ASCII letters, digits or '-'"));
                }
                if !valid_pw(&pw) {
                    return Err(invalid(
                        "invalid_pw",
                        "pw must be 1–32 printable ASCII characters without ';', '=', '&' or ','",
                    ));
                }
                match world.zones.get(&section) {
                    Some((z, _)) if z.kind == ZoneKind::WaterSection && z.target_class.is_some() => {}
                    Some(_) => {
                        return Err(invalid("not_a_water_section", format!("zone {section} is not a water_section")));
                    }
                    None => return Err(invalid("unknown_zone", format!("no zone {section}"))),
                }
                Some(StationLink { mn, pw_sealed: self.vault.seal_secret(&pw)?, water_section: section })
            }
            _ if req.mn.is_some() || req.pw.is_some() || req.water_section.is_some() => {
                return Err(invalid("not_a_water_station", "mn, pw and water_section are for water_station devices"));
            }
            _ => None,
        };

        let mut zones: BTreeSet<String> = BTreeSet::new();
        for z in req.zones.into_iter().chain(station.as_ref().map(|s| s.water_section.clone())) {
            if world.zones.get(&z).is_none() {
                return Err(invalid("unknown_zone", format!("no zone {z}")));
            }
            zones.insert(z);
        }
        if zones.len() > MAX_WATCHED_ZONES {
            return Err(AppError::invalid(format!("a device watches at most {MAX_WATCHED_ZONES} zones")));
        }

        if let Some(g) = &req.gateway {
            if req.kind == DeviceKind::Gateway {
                return Err(invalid("invalid_gateway", "a gateway is not registered under another gateway"));
            }
            match self.store.device(g).await? {
                Some(d) if d.kind == DeviceKind::Gateway && d.revoked_at.is_none() => {}
                _ => return Err(invalid("invalid_gateway", format!("{g} is not a registered gateway"))),
            }
        }
        if let Some(secs) = req.report_interval_secs
            && !(1..=MAX_REPORT_INTERVAL_SECS).contains(&secs)
        {
            return Err(AppError::invalid(format!("report_interval_secs must be 1..={MAX_REPORT_INTERVAL_SECS}")));
        }

        let rec = DeviceRecord {
            id: req.id,
            name: req.name,
            kind: req.kind,
            key_hash,
            unit,
            created_at: now(),
            revoked_at: None,
            position,
            zones: zones.into_iter().collect(),
            station,
            gateway: req.gateway,
            report_interval_secs: req.report_interval_secs,
            last_seen: None,
        };
        let ev = self.actor_event(actor, "device.create", &resource);
        self.store.create_device(rec.clone(), ev).await?;
        Ok(rec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn station_codes_and_passwords_cannot_break_a_data_segment() {
        assert!(valid_mn("010000A8900016F000169DC0"));
        assert!(valid_mn("WH-0001"));
        for bad in ["", "a;b", "MN=1", "x".repeat(25).as_str(), "站点"] {
            assert!(!valid_mn(bad), "{bad}");
        }
        assert!(valid_pw("100000"));
        for bad in ["", "a;b", "a=b", "a&b", "a,b", "a b", "x".repeat(33).as_str()] {
            assert!(!valid_pw(bad), "{bad}");
        }
    }
}
