//! The catalog in the spreadsheet layout a catalog-compilation office uses.
