use super::fold_table::{FOLDED, is_combining_mark};
use serde::{Deserialize, Serialize};

use crate::model::ids::{DeviceId, Name, UserId};
use crate::model::roles::RoleSet;
use crate::model::state::State;
use crate::views::DeviceView;

/// One hit of the "+ Log agent" picker: who, their roles, and their devices with the
/// active one (the green dot).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserMatch {
    pub user: UserId,
    pub name: Name,
    pub roles: RoleSet,
    /// In order of registration.
    pub devices: Vec<DeviceView>,
    pub active_device: Option<DeviceId>,
}

/// Users whose name or id contains every word of `text`, ignoring case and accents
/// ("muller" and "mueller" find "Müller"), having any role of `roles` (all users when
/// `roles` is empty). Sorted by folded name, then id.
pub fn search_users(state: &State, text: &str, roles: RoleSet) -> Vec<UserMatch> {
    let words: Vec<String> = text.split_whitespace().map(fold).collect();
    let mut hits: Vec<(String, UserMatch)> = state
        .users()
        .filter(|(_, u)| u.roles.matches_any(roles))
        .filter_map(|(id, u)| {
            let name = fold(u.name.as_str());
            let german = fold(&expand_umlauts(u.name.as_str()));
            let folded_id = fold(id.as_str());
            let hit = words.iter().all(|w| name.contains(w) || german.contains(w) || folded_id.contains(w));
            hit.then(|| {
                let devices: Vec<DeviceView> =
                    u.devices.iter().filter_map(|d| state.device(d).map(|dev| DeviceView::new(d, dev))).collect();
                let active_device = devices.iter().find(|d| d.active).map(|d| d.device.clone());
                (name, UserMatch { user: id.clone(), name: u.name.clone(), roles: u.roles, devices, active_device })
            })
        })
        .collect();
    hits.sort_by(|(a, ma), (b, mb)| (a, &ma.user).cmp(&(b, &mb.user)));
    hits.into_iter().map(|(_, m)| m).collect()
}

/// Lower-cases `text` and strips accents: a letter with a canonical decomposition becomes its
/// base letter ([`FOLDED`], Unicode's decompositions in a compact table), combining marks
/// are dropped, and letters that Unicode does not decompose (ß, æ, ø, ł, …) are spelled out.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let base = |c: char| {
        let found = FOLDED.binary_search_by_key(&c, |&(from, _)| from).ok();
        found.and_then(|i| FOLDED.get(i)).map_or(c, |&(_, base)| base)
    };
    for c in text.chars().map(base).flat_map(char::to_lowercase) {
        match c {
            c if is_combining_mark(c) => {}
            'ß' => out.push_str("ss"),
            'æ' => out.push_str("ae"),
            'œ' => out.push_str("oe"),
            'þ' => out.push_str("th"),
            'ø' => out.push('o'),
            'ł' => out.push('l'),
            'đ' | 'ð' => out.push('d'),
            'ı' => out.push('i'),
            c => out.push(c),
        }
    }
    out
}

/// The German spelling without umlauts: "Müller" is also written "Mueller".
fn expand_umlauts(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 4);
    for c in text.chars() {
        match c {
            'ä' | 'Ä' => out.push_str("ae"),
            'ö' | 'Ö' => out.push_str("oe"),
            'ü' | 'Ü' => out.push_str("ue"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::fold;

    #[test]
    fn folding_ignores_case_and_accents() {
        assert_eq!(fold("Müller"), "muller");
        assert_eq!(fold("ÉLODIE Łukasz Straße Øre"), "elodie lukasz strasse ore");
        assert_eq!(fold("İstanbul"), "istanbul");
    }
}
