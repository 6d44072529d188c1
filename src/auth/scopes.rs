//! What a caller may do. A login's access token may do everything the account's owner may; a
//! personal access token only what its scopes allow. The route → scope table lives with the HTTP
//! layer (`http::scopes`); the MCP tools name their scope the same way.

use std::fmt;

/// One permission a personal access token can carry (API.md "Personal access tokens").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Entries, the dashboard, stats, export.
    EntriesRead,
    /// Create, update, delete entries; import; device uploads.
    EntriesWrite,
    GoalsRead,
    GoalsWrite,
    /// The coach: chat, weekly report, history.
    Ai,
}

impl Scope {
    pub const ALL: [Scope; 5] = [
        Scope::EntriesRead,
        Scope::EntriesWrite,
        Scope::GoalsRead,
        Scope::GoalsWrite,
        Scope::Ai,
    ];

    /// The scope's name on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            Scope::EntriesRead => "entries:read",
            Scope::EntriesWrite => "entries:write",
            Scope::GoalsRead => "goals:read",
            Scope::GoalsWrite => "goals:write",
            Scope::Ai => "ai",
        }
    }

    pub fn parse(name: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|scope| scope.as_str() == name)
    }

    const fn bit(self) -> u8 {
        1 << self as u8
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of scopes (a bit per scope: copied freely, compared in one instruction).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ScopeSet(u8);

impl ScopeSet {
    pub const EMPTY: ScopeSet = ScopeSet(0);

    pub const fn contains(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    pub fn insert(&mut self, scope: Scope) {
        self.0 |= scope.bit();
    }

    /// The scopes in the order of [`Scope::ALL`].
    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL.into_iter().filter(move |scope| self.contains(*scope))
    }

    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The names, space-separated: how the stores keep a set (readable in the database).
    pub fn to_names(self) -> String {
        self.iter().map(Scope::as_str).collect::<Vec<_>>().join(" ")
    }

    /// The set of the names given (space-separated); a name this build does not know is left out,
    /// so a token stored by a newer build never gains a scope here.
    pub fn from_names(names: &str) -> ScopeSet {
        names.split_ascii_whitespace().filter_map(Scope::parse).collect()
    }
}

impl FromIterator<Scope> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = Scope>>(scopes: I) -> Self {
        let mut set = ScopeSet::EMPTY;
        for scope in scopes {
            set.insert(scope);
        }
        set
    }
}

/// How the caller proved who they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// A login's access token (a password login, or a refresh of one): every scope, and the
    /// account routes.
    Login,
    /// A personal access token: only its scopes, never the account routes.
    Personal { scopes: ScopeSet },
}

impl Access {
    pub fn allows(self, scope: Scope) -> bool {
        match self {
            Access::Login => true,
            Access::Personal { scopes } => scopes.contains(scope),
        }
    }

    pub fn is_login(self) -> bool {
        matches!(self, Access::Login)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_names_round_trip() {
        for scope in Scope::ALL {
            assert_eq!(Scope::parse(scope.as_str()), Some(scope));
        }
        assert_eq!(Scope::parse("entries:delete"), None);
        assert_eq!(Scope::parse("AI"), None);
    }

    #[test]
    fn a_personal_token_has_only_its_scopes_and_a_login_has_all() {
        let read_only = Access::Personal {
            scopes: [Scope::EntriesRead, Scope::GoalsRead].into_iter().collect(),
        };
        assert!(read_only.allows(Scope::EntriesRead));
        assert!(!read_only.allows(Scope::EntriesWrite));
        assert!(Scope::ALL.into_iter().all(|scope| Access::Login.allows(scope)));
    }
}
