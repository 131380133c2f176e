//! Reports in the forms people open them in: the day at a glance as CSV, one line per
//! agent and channel with the time in each state (milliseconds, like `at`).

use agentstate_core::views::ActivityReport;

/// The activity report as CSV: `user,channel`, the time signed in and in each state, one
/// column per pause reason found, and the interactions handled.
pub fn activity_csv(report: &ActivityReport) -> Result<String, csv::Error> {
    let mut reasons: Vec<&str> =
        report.rows.iter().flat_map(|row| row.totals.paused_by_reason.keys().map(|r| r.as_str())).collect();
    reasons.sort_unstable();
    reasons.dedup();
    let mut csv = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = [
        "user",
        "channel",
        "signed_in_ms",
        "available_ms",
        "on_interaction_ms",
        "wrap_up_ms",
        "paused_ms",
        "signed_out_ms",
    ]
    .map(str::to_owned)
    .to_vec();
    header.extend(reasons.iter().map(|reason| cell(&format!("paused_{reason}_ms")).into_owned()));
    header.push("interactions_handled".to_owned());
    csv.write_record(&header)?;
    for row in &report.rows {
        let t = &row.totals;
        let mut record: Vec<String> =
            vec![cell(row.user.as_str()).into_owned(), cell(row.channel.as_str()).into_owned()];
        record.extend(
            [t.signed_in_ms, t.available_ms, t.on_interaction_ms, t.wrap_up_ms, t.paused_ms, t.signed_out_ms]
                .map(|ms| ms.to_string()),
        );
        record.extend(reasons.iter().map(|reason| t.paused_by_reason.get(*reason).copied().unwrap_or(0).to_string()));
        record.push(t.interactions_handled.to_string());
        csv.write_record(&record)?;
    }
    let bytes = csv.into_inner().map_err(|e| csv::Error::from(e.into_error()))?;
    // Every cell was a `String`: the bytes are UTF-8.
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// A text cell a spreadsheet will not run: one that begins with `=`, `+`, `-`, `@`, a tab or
/// a carriage return is read as a formula by Excel, LibreOffice and Google Sheets, so it gets
/// a leading `'` (OWASP's advice for CSV injection). Ids and pause reasons are the tenant's
/// own text, not ours.
fn cell(text: &str) -> std::borrow::Cow<'_, str> {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        std::borrow::Cow::Owned(format!("'{text}"))
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

#[cfg(test)]
mod tests {
    use super::cell;

    #[test]
    fn cells_that_a_spreadsheet_would_run_are_neutralised() {
        for formula in ["=HYPERLINK(\"http://x\",\"y\")", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(cell(formula), format!("'{formula}"));
        }
        for plain in ["ana", "lunch", "paused_lunch_ms", "a=b", ""] {
            assert_eq!(cell(plain), plain);
        }
    }
}
