//! Paging (contract §6.1): `pageNumber` from 1, `pageSize` 1..=100, default 25.

use herald_store::Page;

use crate::{ServiceError, ServiceResult};

pub const DEFAULT_PAGE_SIZE: u32 = 25;
pub const MAX_PAGE_SIZE: u32 = 100;

/// Validates paging parameters given as text (as they arrive in a query string).
pub fn page(number: Option<&str>, size: Option<&str>) -> ServiceResult<Page> {
    let mut errors = Vec::new();
    let number = match number.filter(|s| !s.is_empty()) {
        None => 1,
        Some(n) => match n.parse::<u32>() {
            Ok(n) if (1..=1_000_000).contains(&n) => n,
            _ => {
                errors.push(herald_domain::FieldError::new("pageNumber", "must be a whole number from 1"));
                1
            }
        },
    };
    let size = match size.filter(|s| !s.is_empty()) {
        None => DEFAULT_PAGE_SIZE,
        Some(n) => match n.parse::<u32>() {
            Ok(n) if (1..=MAX_PAGE_SIZE).contains(&n) => n,
            _ => {
                errors.push(herald_domain::FieldError::new(
                    "pageSize",
                    format!("must be a whole number from 1 to {MAX_PAGE_SIZE}"),
                ));
                DEFAULT_PAGE_SIZE
            }
        },
    };
    if errors.is_empty() {
        Ok(Page { number, size })
    } else {
        Err(ServiceError::Validation(errors))
    }
}

/// One page of results and what the envelope needs.
#[derive(Debug, Clone)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub page: Page,
    pub total: u64,
}

impl<T> Paged<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Paged<U> {
        Paged { items: self.items.into_iter().map(f).collect(), page: self.page, total: self.total }
    }

    pub fn total_pages(&self) -> u64 {
        self.total.div_ceil(self.page.size as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_bounds_are_enforced() {
        assert_eq!(page(None, None).unwrap(), Page { number: 1, size: 25 });
        assert_eq!(page(Some("3"), Some("100")).unwrap(), Page { number: 3, size: 100 });
        for (n, s) in [(Some("0"), None), (None, Some("0")), (None, Some("101")), (Some("x"), None), (Some("-1"), None)]
        {
            assert!(matches!(page(n, s), Err(ServiceError::Validation(_))), "{n:?} {s:?}");
        }
    }
}
