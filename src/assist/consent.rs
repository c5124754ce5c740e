//! The consent rule for edits to protected files ([`super::sensitive`]), in one place:
//! a protected file is edited only with the user's consent, which the client either
//! asks for (`window/showMessageRequest`, just before the edit is applied) or, where it
//! cannot ask, the user gives by choosing the action offered as `confirmed`.

/// What an action needs before its edit may be applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Consent {
    /// Not an edit, or not a protected file.
    NotNeeded,
    /// The client asks the user before the edit is applied.
    Ask,
    /// The client cannot ask; the user chose the action marked as editing a protected
    /// file.
    Given,
    /// The client cannot ask and the action was not the marked one: refuse it.
    Missing,
}

/// The rule. `protected`: the file is protected; `can_ask`: the client answers
/// `window/showMessageRequest`; `confirmed`: the action carries `confirmed: true`.
pub fn for_action(is_edit: bool, protected: bool, can_ask: bool, confirmed: bool) -> Consent {
    match (is_edit && protected, can_ask, confirmed) {
        (false, _, _) => Consent::NotNeeded,
        (true, true, _) => Consent::Ask,
        (true, false, true) => Consent::Given,
        (true, false, false) => Consent::Missing,
    }
}

/// Whether the menu offers the action already confirmed (and says so in its title):
/// the one way a client that cannot ask lets the user consent.
pub fn offer_confirmed(is_edit: bool, protected: bool, can_ask: bool) -> bool {
    for_action(is_edit, protected, can_ask, false) == Consent::Missing
}

#[cfg(test)]
mod tests {
    use super::Consent::*;
    use super::*;

    /// (is_edit, protected, can_ask, confirmed, expected)
    #[test]
    fn rule_table() {
        let cases = [
            (false, true, false, false, NotNeeded),
            (true, false, false, false, NotNeeded),
            (true, false, true, true, NotNeeded),
            (true, true, true, false, Ask),
            // a client that can ask still asks, even for a confirmed action
            (true, true, true, true, Ask),
            (true, true, false, true, Given),
            (true, true, false, false, Missing),
        ];
        for (is_edit, protected, can_ask, confirmed, want) in cases {
            assert_eq!(
                for_action(is_edit, protected, can_ask, confirmed),
                want,
                "edit={is_edit} protected={protected} can_ask={can_ask} confirmed={confirmed}"
            );
        }
    }

    #[test]
    fn only_clients_that_cannot_ask_are_offered_confirmed_edits() {
        assert!(offer_confirmed(true, true, false));
        assert!(!offer_confirmed(true, true, true));
        assert!(!offer_confirmed(false, true, false));
        assert!(!offer_confirmed(true, false, false));
    }
}
