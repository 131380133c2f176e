//! Contact-center roles of a user and the tenant's product plan.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A contact-center role. Only `agent` has an Agent dashboard (self-service).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Agent,
    Supervisor,
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Agent, Role::Supervisor, Role::Admin];

    fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// The set of roles of a user. On the wire a list in canonical order
/// (`agent`, `supervisor`, `admin`); a repeated role in input is harmless.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify), tsify(type = "Role[]"))]
pub struct RoleSet(u8);

impl RoleSet {
    pub const NONE: RoleSet = RoleSet(0);

    pub fn has(self, role: Role) -> bool {
        self.0 & role.bit() != 0
    }

    pub fn with(self, role: Role) -> RoleSet {
        RoleSet(self.0 | role.bit())
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// True when this set shares a role with `filter`, or `filter` is empty.
    pub fn matches_any(self, filter: RoleSet) -> bool {
        filter.is_empty() || self.0 & filter.0 != 0
    }

    pub fn iter(self) -> impl Iterator<Item = Role> {
        Role::ALL.into_iter().filter(move |r| self.has(*r))
    }
}

impl FromIterator<Role> for RoleSet {
    fn from_iter<I: IntoIterator<Item = Role>>(iter: I) -> Self {
        iter.into_iter().fold(RoleSet::NONE, RoleSet::with)
    }
}

impl fmt::Debug for RoleSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Serialize for RoleSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for RoleSet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Vec::<Role>::deserialize(d)?.into_iter().collect())
    }
}

/// The tenant's product tier. The Supervisor dashboard needs Complete or Support Center.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Plan {
    #[default]
    Basic,
    Complete,
    SupportCenter,
}

impl Plan {
    pub const ALL: [Plan; 3] = [Plan::Basic, Plan::Complete, Plan::SupportCenter];

    pub fn has_supervisor_dashboard(self) -> bool {
        matches!(self, Plan::Complete | Plan::SupportCenter)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Plan::Basic => "basic",
            Plan::Complete => "complete",
            Plan::SupportCenter => "support_center",
        }
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for RoleSet {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ArrayBuilder::new()
            .items(<Role as utoipa::PartialSchema>::schema())
            .unique_items(true)
            .description(Some("roles in canonical order: agent, supervisor, admin"))
            .into()
    }
}
#[cfg(feature = "openapi")]
impl utoipa::ToSchema for RoleSet {
    fn schemas(schemas: &mut Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)>) {
        schemas.push((<Role as utoipa::ToSchema>::name().into(), <Role as utoipa::PartialSchema>::schema()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_travel_as_a_canonical_list() {
        let set: RoleSet = serde_json::from_str(r#"["admin","agent","admin"]"#).unwrap();
        assert_eq!(serde_json::to_string(&set).unwrap(), r#"["agent","admin"]"#);
        assert!(serde_json::from_str::<RoleSet>(r#"["boss"]"#).is_err());
    }
}
