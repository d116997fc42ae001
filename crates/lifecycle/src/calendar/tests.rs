use chrono::TimeZone;

use super::*;

/// A local (Asia/Shanghai) wall-clock time as a UTC instant.
fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    shanghai()
        .with_ymd_and_hms(y, m, d, h, min, 0)
        .single()
        .expect("valid local time")
        .to_utc()
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

fn hm(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).expect("valid time")
}

#[test]
fn the_2026_arrangement_moves_days() {
    let cal = Calendar::china_default();
    // Saturday, 春节 make-up working day.
    assert!(cal.is_working_day(date(2026, 2, 14)));
    assert_eq!(
        cal.special_day(date(2026, 2, 14)).unwrap().name,
        "春节 调休上班"
    );
    // Thursday, 国庆节.
    assert!(!cal.is_working_day(date(2026, 10, 1)));
    // Saturday, 国庆节 make-up working day.
    assert!(cal.is_working_day(date(2026, 10, 10)));
    // Ordinary days.
    assert!(cal.is_working_day(date(2026, 3, 6)));
    assert!(!cal.is_working_day(date(2026, 3, 7)));
    // 2027 has no file yet: Monday–Friday only, so 2027-10-01 (a Friday) counts.
    assert!(cal.is_working_day(date(2027, 10, 1)));
}

#[test]
fn friday_afternoon_plus_two_working_hours_is_monday_morning() {
    let cal = Calendar::china_default();
    // 1.5 h left on Friday (to 17:30), 0.5 h from Monday's 08:30 opening.
    assert_eq!(
        cal.add_working_hours(at(2026, 3, 6, 16, 0), 2),
        at(2026, 3, 9, 9, 0)
    );
    assert_eq!(
        cal.add_working_hours(at(2026, 3, 6, 16, 30), 2),
        at(2026, 3, 9, 9, 30)
    );
    // With 09:00–12:00 / 13:30–17:30 office hours, Friday 16:00 + 2 h is Monday 09:30.
    let nine = cal
        .clone()
        .with_sessions(vec![
            Session::new(hm(9, 0), hm(12, 0)).unwrap(),
            Session::new(hm(13, 30), hm(17, 30)).unwrap(),
        ])
        .unwrap();
    assert_eq!(
        nine.add_working_hours(at(2026, 3, 6, 16, 0), 2),
        at(2026, 3, 9, 9, 30)
    );
}

#[test]
fn working_hours_skip_lunch_and_nights() {
    let cal = Calendar::china_default();
    // Monday 11:00 + 2 h: one hour before lunch, one after.
    assert_eq!(
        cal.add_working_hours(at(2026, 3, 9, 11, 0), 2),
        at(2026, 3, 9, 15, 0)
    );
    // A start in the lunch break starts the clock at 14:00.
    assert_eq!(
        cal.add_working_hours(at(2026, 3, 9, 12, 30), 1),
        at(2026, 3, 9, 15, 0)
    );
    // A span ending exactly at the close stays at the close.
    assert_eq!(
        cal.add_working_hours(at(2026, 3, 9, 16, 30), 1),
        at(2026, 3, 9, 17, 30)
    );
    // Zero hours from outside working time is the next opening.
    assert_eq!(
        cal.add_working_hours(at(2026, 3, 7, 10, 0), 0),
        at(2026, 3, 9, 8, 30)
    );
    assert_eq!(
        cal.next_working_time(at(2026, 3, 9, 10, 0)),
        at(2026, 3, 9, 10, 0)
    );
}

#[test]
fn working_hours_over_national_day() {
    let cal = Calendar::china_default();
    // Wednesday 30 Sep 16:00: 1.5 h that day, then 1–7 Oct off, Thursday 8 Oct resumes.
    assert_eq!(
        cal.add_working_hours(at(2026, 9, 30, 16, 0), 2),
        at(2026, 10, 8, 9, 0)
    );
    assert_eq!(
        cal.working_hours_between(at(2026, 9, 30, 16, 0), at(2026, 10, 8, 9, 0)),
        2.0
    );
    // Friday 9 Oct 17:00 + 1 h: the make-up Saturday 10 Oct is a working day.
    assert_eq!(
        cal.add_working_hours(at(2026, 10, 9, 17, 0), 1),
        at(2026, 10, 10, 9, 0)
    );
}

#[test]
fn working_days_count_whole_days_after_the_start() {
    let cal = Calendar::china_default();
    let three = |start| cal.add_working_days(start, 3);
    // Monday 10:00: the rest of Monday is a bonus; Tue, Wed, Thu.
    assert_eq!(three(at(2026, 3, 9, 10, 0)), at(2026, 3, 12, 17, 30));
    // After hours, weekend, before opening: the next working day counts in full.
    assert_eq!(three(at(2026, 3, 6, 18, 0)), at(2026, 3, 11, 17, 30));
    assert_eq!(three(at(2026, 3, 7, 10, 0)), at(2026, 3, 11, 17, 30));
    assert_eq!(three(at(2026, 3, 9, 8, 0)), at(2026, 3, 11, 17, 30));
    assert_eq!(three(at(2026, 3, 9, 8, 30)), at(2026, 3, 11, 17, 30));
    // Zero days: the close of the day the clock is running on.
    assert_eq!(
        cal.add_working_days(at(2026, 3, 9, 10, 0), 0),
        at(2026, 3, 9, 17, 30)
    );
    assert_eq!(
        cal.add_working_days(at(2026, 3, 7, 10, 0), 0),
        at(2026, 3, 9, 17, 30)
    );
}

#[test]
fn working_days_over_national_day_with_the_make_up_saturday() {
    let cal = Calendar::china_default();
    // Wednesday 30 Sep: Thu 8 Oct, Fri 9 Oct, Sat 10 Oct (调休上班).
    assert_eq!(
        cal.add_working_days(at(2026, 9, 30, 10, 0), 3),
        at(2026, 10, 10, 17, 30)
    );
    // Without the holiday data it would be Mon–Wed of the holiday week.
    let plain = Calendar::weekdays_only();
    assert_eq!(
        plain.add_working_days(at(2026, 9, 30, 10, 0), 3),
        at(2026, 10, 5, 17, 30)
    );
}

#[test]
fn working_time_between_is_a_signed_difference() {
    let cal = Calendar::china_default();
    let (fri, mon) = (at(2026, 3, 6, 16, 0), at(2026, 3, 9, 9, 0));
    assert_eq!(cal.working_time_between(fri, mon), TimeDelta::hours(2));
    assert_eq!(cal.working_time_between(mon, fri), -TimeDelta::hours(2));
    assert_eq!(
        cal.working_hours_between(at(2026, 3, 9, 0, 0), at(2026, 3, 10, 0, 0)),
        7.0
    );
    assert_eq!(cal.working_hours_between(fri, fri), 0.0);
}

#[test]
fn later_files_override_earlier_ones() {
    let local = "date,kind,name\n2026-10-10,holiday,local exception\n2027-01-01,holiday,元旦\n";
    let cal = Calendar::china_default().with_csv(local).unwrap();
    assert!(!cal.is_working_day(date(2026, 10, 10)));
    assert!(!cal.is_working_day(date(2027, 1, 1)));
    assert!(cal.is_working_day(date(2026, 2, 14)));
}

#[test]
fn malformed_files_are_refused_with_the_line() {
    let bad_date = "# comment\ndate,kind,name\n2026-13-01,holiday,x\n";
    assert_eq!(
        Calendar::from_csv(bad_date).unwrap_err().to_string(),
        "holiday file line 3: date \"2026-13-01\" is not YYYY-MM-DD"
    );
    let bad_kind = "2026-05-01,day off,劳动节\n";
    assert_eq!(
        Calendar::from_csv(bad_kind).unwrap_err(),
        CalendarError::Csv {
            line: 1,
            message: "kind \"day off\" is neither holiday nor workday".into()
        }
    );
    assert!(Calendar::from_csv("").is_ok());
}

#[test]
fn sessions_must_be_ordered_and_disjoint() {
    assert!(Session::new(hm(12, 0), hm(8, 30)).is_err());
    let cal = Calendar::weekdays_only();
    assert!(cal.clone().with_sessions(vec![]).is_err());
    let morning = Session::new(hm(8, 30), hm(12, 0)).unwrap();
    let late_morning = Session::new(hm(11, 0), hm(13, 0)).unwrap();
    assert!(
        cal.clone()
            .with_sessions(vec![morning, late_morning])
            .is_err()
    );
    assert!(cal.with_sessions(vec![morning]).is_ok());
}
