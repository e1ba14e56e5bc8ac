//! Detector thresholds on small hand-made recordings (one window unless said).
use crate::moments::*;
use crate::timeline::{Kind, WindowTimeline};
use crate::{analyze_session, Config, Insight};
use proptest::prelude::*;
use reel_format::{Event, Session};

const T0: i64 = 1_700_000_000_000;

fn ev(s: String) -> Event {
    Event::parse(s).unwrap()
}

/// Meta + a FullSnapshot of a page with: #ok (a button whose click changes text), #dead (a
/// button that does nothing), a form with an email field and a submit button, a plain <p>.
fn page(t: i64, href: &str, first_id: i64) -> Vec<Event> {
    let i = first_id;
    vec![
        ev(format!(
            r#"{{"type":4,"data":{{"href":"{href}","width":800,"height":600}},"timestamp":{t}}}"#
        )),
        ev(format!(
            r#"{{"type":2,"data":{{"node":{{"type":0,"id":{i},"childNodes":[
            {{"type":2,"id":{},"tagName":"html","attributes":{{}},"childNodes":[
              {{"type":2,"id":{},"tagName":"body","attributes":{{}},"childNodes":[
                {{"type":2,"id":10{i},"tagName":"button","attributes":{{"id":"ok"}},"childNodes":[{{"type":3,"id":11{i},"textContent":" Save  now "}}]}},
                {{"type":2,"id":12{i},"tagName":"button","attributes":{{"id":"dead","class":"btn primary"}},"childNodes":[{{"type":3,"id":13{i},"textContent":"Nothing"}}]}},
                {{"type":2,"id":14{i},"tagName":"form","attributes":{{"id":"login"}},"childNodes":[
                  {{"type":2,"id":15{i},"tagName":"input","attributes":{{"type":"email","name":"email"}},"childNodes":[]}},
                  {{"type":2,"id":16{i},"tagName":"button","attributes":{{"class":"go"}},"childNodes":[{{"type":3,"id":17{i},"textContent":"Sign in"}}]}}
                ]}},
                {{"type":2,"id":18{i},"tagName":"p","attributes":{{}},"childNodes":[{{"type":3,"id":19{i},"textContent":"*** ****"}}]}}
              ]}}
            ]}}]}},"initialOffset":{{"top":0,"left":0}}}},"timestamp":{t}}}"#,
            i + 1,
            i + 2
        )),
    ]
}

fn click(t: i64, id: String, x: f64, y: f64) -> Event {
    ev(format!(
        r#"{{"type":3,"data":{{"source":2,"type":2,"id":{id},"x":{x},"y":{y}}},"timestamp":{t}}}"#
    ))
}
fn mutation(t: i64) -> Event {
    ev(format!(
        r#"{{"type":3,"data":{{"source":0,"texts":[],"attributes":[],"removes":[],"adds":[]}},"timestamp":{t}}}"#
    ))
}
fn mouse(t: i64) -> Event {
    ev(format!(
        r#"{{"type":3,"data":{{"source":1,"positions":[{{"x":1,"y":1,"id":1,"timeOffset":0}}]}},"timestamp":{t}}}"#
    ))
}
fn console(t: i64, level: &str, msg: &str) -> Event {
    let m = serde_json::to_string(&serde_json::to_string(msg).unwrap()).unwrap();
    ev(format!(
        r#"{{"type":6,"data":{{"plugin":"rrweb/console@1","payload":{{"level":"{level}","trace":[],"payload":[{m}]}}}},"timestamp":{t}}}"#
    ))
}
fn request(t: i64, status: i64, ms: f64) -> Event {
    ev(format!(
        r#"{{"type":6,"data":{{"plugin":"rrweb/network@1","payload":{{"requests":[{{"name":"https://a.test/api/x?q=*","method":"POST","responseStatus":{status},"startTime":100,"endTime":{},"timestamp":{t}}}]}}}},"timestamp":{t}}}"#,
        100.0 + ms
    ))
}

fn session(events: Vec<Event>) -> Session {
    let mut s = Session::new("s1");
    s.window_mut("w1").events = events;
    s
}

fn run(events: Vec<Event>) -> Insight {
    analyze_session(&session(events), &Config::default())
}

/// The first moment of kind `k` (there must be one).
fn first(i: &Insight, k: MomentKind) -> &crate::moments::Moment {
    i.moments
        .iter()
        .find(|m| m.kind == k)
        .expect("a moment of that kind")
}

fn kinds(i: &Insight, k: MomentKind) -> Vec<i64> {
    i.moments
        .iter()
        .filter(|m| m.kind == k)
        .map(|m| m.t_ms)
        .collect()
}

/// The timeline of one window's events.
fn timeline(evs: &[Event]) -> Vec<crate::timeline::TimelineEvent> {
    let mut w = WindowTimeline::new("s1", "w1");
    let mut out = Vec::new();
    for e in evs {
        w.observe(e, &mut out);
    }
    out
}

#[test]
fn timeline_resolves_targets_and_urls() {
    let mut evs = page(T0, "https://a.test/", 1);
    evs.push(click(T0 + 100, "101".into(), 10.0, 10.0));
    evs.push(ev(format!(r#"{{"type":3,"data":{{"source":5,"id":151,"text":"*****","isChecked":false}},"timestamp":{}}}"#, T0 + 200)));
    evs.push(click(T0 + 300, "191".into(), 10.0, 10.0));
    let out = timeline(&evs);
    let k: Vec<Kind> = out.iter().map(|t| t.kind).collect();
    assert_eq!(
        k,
        [
            Kind::Navigation,
            Kind::FullSnapshot,
            Kind::Click,
            Kind::Input,
            Kind::Click
        ]
    );
    let c = out[2].target.as_ref().unwrap();
    assert_eq!(
        (c.tag.as_str(), c.selector.as_str(), c.text.as_str()),
        ("button", "button#ok", "Save now")
    );
    assert_eq!(out[2].url.as_deref(), Some("https://a.test/"));
    assert_eq!(out[3].input_value.as_deref(), Some("*****"));
    assert_eq!(
        out[3].target.as_ref().unwrap().selector,
        "form#login > input"
    );
    // A click on a text node resolves to its element; masked text stays masked.
    let p = out[4].target.as_ref().unwrap();
    assert_eq!((p.tag.as_str(), p.text.as_str()), ("p", "*** ****"));
}

#[test]
fn mobile_taps_are_clicks_on_wireframes_and_input_updates_are_inputs() {
    let evs = vec![
        ev(format!(
            r#"{{"type":4,"data":{{"href":"LoginActivity","width":393,"height":852}},"timestamp":{T0}}}"#
        )),
        ev(format!(
            r#"{{"type":2,"data":{{"initialOffset":{{"top":0,"left":0}},"wireframes":[{{"id":1,"type":"div","width":393,"height":852,"childWireframes":[
                {{"id":2,"type":"input","inputType":"text","value":"","width":300,"height":40}},
                {{"id":3,"type":"input","inputType":"button","value":"Sign  in","width":300,"height":40}}]}}]}},"timestamp":{}}}"#,
            T0 + 1
        )),
        ev(format!(
            r#"{{"type":3,"data":{{"source":2,"type":7,"id":2,"x":5,"y":5}},"timestamp":{}}}"#,
            T0 + 100
        )),
        ev(format!(
            r#"{{"type":3,"data":{{"source":2,"type":9,"id":2,"x":5,"y":5}},"timestamp":{}}}"#,
            T0 + 150
        )),
        ev(format!(
            r#"{{"type":3,"data":{{"source":0,"updates":[{{"parentId":1,"wireframe":{{"id":2,"type":"input","inputType":"text","value":"ada","width":300,"height":40}}}}]}},"timestamp":{}}}"#,
            T0 + 400
        )),
        ev(format!(
            r#"{{"type":3,"data":{{"source":2,"type":9,"id":3,"x":9,"y":9}},"timestamp":{}}}"#,
            T0 + 900
        )),
    ];
    let out = timeline(&evs);
    let k: Vec<Kind> = out.iter().map(|t| t.kind).collect();
    assert_eq!(
        k,
        [
            Kind::Navigation,
            Kind::FullSnapshot,
            Kind::Click,
            Kind::Input,
            Kind::Click
        ]
    );
    let tap = out[4].target.as_ref().unwrap();
    assert_eq!(
        (tap.tag.as_str(), tap.selector.as_str(), tap.text.as_str()),
        ("button", "button#3", "Sign in")
    );
    assert_eq!(out[3].input_value.as_deref(), Some("ada"));
    assert_eq!(out[3].target.as_ref().unwrap().id, 2);
    let i = run(evs);
    assert!(
        i.summary.text.contains("clicked 2 times"),
        "{}",
        i.summary.text
    );
}

#[test]
fn five_fast_clicks_are_one_rage_click_not_dead_clicks() {
    let mut evs = page(T0, "https://a.test/", 1);
    for i in 0..5 {
        evs.push(click(
            T0 + 1000 + i * 150,
            "121".into(),
            50.0 + i as f64,
            50.0,
        ));
    }
    evs.push(mouse(T0 + 9000));
    let i = run(evs);
    assert_eq!(kinds(&i, MomentKind::RageClick), [1000]);
    assert_eq!(i.moments[0].detail["clicks"], 5);
    assert_eq!(
        i.moments[0].target.as_ref().unwrap().selector,
        "button#dead"
    );
    assert!(kinds(&i, MomentKind::DeadClick).is_empty());
}

#[test]
fn rage_thresholds() {
    // Two clicks are not a rage click; three spread over more than 1 s are not either; three
    // more than 30 px apart are not.
    for (gap, dx, n, rage) in [
        (100, 0.0, 2, false),
        (100, 0.0, 3, true),
        (499, 0.0, 3, true),
        (501, 0.0, 3, false),
        (100, 31.0, 3, false),
        (100, 14.0, 3, true),
    ] {
        let mut evs = page(T0, "https://a.test/", 1);
        for k in 0..n {
            evs.push(click(
                T0 + 1000 + k * gap,
                "101".into(),
                50.0 + k as f64 * dx,
                50.0,
            ));
            evs.push(mutation(T0 + 1001 + k * gap));
        }
        let i = run(evs);
        assert_eq!(
            i.count(MomentKind::RageClick) == 1,
            rage,
            "gap {gap} dx {dx} n {n}"
        );
    }
}

#[test]
fn dead_click_needs_an_interactive_target_and_no_reaction_for_2_5_s() {
    // #dead: nothing happens for 3 s (mouse moves are not a reaction) → dead.
    let mut evs = page(T0, "https://a.test/", 1);
    evs.push(click(T0 + 1000, "121".into(), 1.0, 1.0));
    evs.push(mouse(T0 + 2000));
    evs.push(mouse(T0 + 4000));
    let i = run(evs);
    assert_eq!(kinds(&i, MomentKind::DeadClick), [1000]);
    // #ok: a mutation 2.4 s later → not dead.
    let mut evs = page(T0, "https://a.test/", 1);
    evs.push(click(T0 + 1000, "101".into(), 1.0, 1.0));
    evs.push(mutation(T0 + 3400));
    evs.push(mouse(T0 + 9000));
    assert!(kinds(&run(evs), MomentKind::DeadClick).is_empty());
    // … 2.6 s later → dead.
    let mut evs = page(T0, "https://a.test/", 1);
    evs.push(click(T0 + 1000, "101".into(), 1.0, 1.0));
    evs.push(mutation(T0 + 3600));
    assert_eq!(kinds(&run(evs), MomentKind::DeadClick), [1000]);
    // A click on plain text is not dead: nobody expects a reaction.
    let mut evs = page(T0, "https://a.test/", 1);
    evs.push(click(T0 + 1000, "181".into(), 1.0, 1.0));
    evs.push(mouse(T0 + 9000));
    assert!(kinds(&run(evs), MomentKind::DeadClick).is_empty());
    // The recording ended before 2.5 s passed: unknown, not dead.
    let mut evs = page(T0, "https://a.test/", 1);
    evs.push(click(T0 + 1000, "121".into(), 1.0, 1.0));
    evs.push(mouse(T0 + 2000));
    assert!(kinds(&run(evs), MomentKind::DeadClick).is_empty());
}

#[test]
fn a_new_window_is_a_reaction() {
    let mut s = session({
        let mut e = page(T0, "https://a.test/", 1);
        e.push(click(T0 + 1000, "121".into(), 1.0, 1.0));
        e.push(mouse(T0 + 9000));
        e
    });
    s.window_mut("w2").events = page(T0 + 2000, "https://a.test/other", 1);
    let i = analyze_session(&s, &Config::default());
    assert!(kinds(&i, MomentKind::DeadClick).is_empty());
}

/// posthog-js can start a new window id at a page load in the same tab (its "primary window"
/// flag survives an unload that did not run): the pages of windows that follow one another are one
/// sequence, so going back and forth is still thrashing; a reload into a new window is no switch.
#[test]
fn thrashing_across_windows_that_follow_one_another() {
    let mut s = session({
        let mut e = page(T0, "https://a.test/", 1);
        e.extend(page(T0 + 10_000, "https://a.test/b", 1));
        e
    });
    // The reload of /b came back as a new window, then / and /b again.
    s.window_mut("w2").events = {
        let mut e = page(T0 + 15_000, "https://a.test/b", 1);
        e.extend(page(T0 + 20_000, "https://a.test/", 1));
        e.extend(page(T0 + 30_000, "https://a.test/b", 1));
        e
    };
    let i = analyze_session(&s, &Config::default());
    assert_eq!(kinds(&i, MomentKind::Thrash), [10_000]);
    let m = first(&i, MomentKind::Thrash);
    assert_eq!(m.detail["switches"], 3);
    assert_eq!(m.url.as_deref(), Some("https://a.test/"));
    // Navigation moments stay per window (a window's first page is none).
    assert_eq!(kinds(&i, MomentKind::Navigation), [10_000, 20_000, 30_000]);

    // Two tabs open at the same time, each on its own page: their pages are not one sequence.
    let mut s = session({
        let mut e = page(T0, "https://a.test/", 1);
        e.extend(page(T0 + 20_000, "https://a.test/b", 1));
        e.push(mouse(T0 + 40_000));
        e
    });
    s.window_mut("w2").events = {
        let mut e = page(T0 + 10_000, "https://a.test/b", 1);
        e.extend(page(T0 + 30_000, "https://a.test/", 1));
        e
    };
    let i = analyze_session(&s, &Config::default());
    assert!(kinds(&i, MomentKind::Thrash).is_empty(), "{:?}", i.moments);
}

#[test]
fn errors_exceptions_and_error_clicks() {
    let mut evs = page(T0, "https://a.test/", 1);
    evs.push(click(T0 + 1000, "101".into(), 1.0, 1.0));
    evs.push(mutation(T0 + 1010));
    evs.push(console(T0 + 1900, "error", "Uncaught Error: boom"));
    evs.push(console(T0 + 5000, "error", "plain error"));
    evs.push(console(T0 + 5100, "warn", "just a warning"));
    evs.push(click(T0 + 8000, "101".into(), 1.0, 1.0));
    evs.push(mutation(T0 + 8010));
    evs.push(console(T0 + 9100, "error", "too late"));
    let i = run(evs);
    assert_eq!(kinds(&i, MomentKind::Exception), [1900]);
    assert_eq!(kinds(&i, MomentKind::ConsoleError), [5000, 9100]);
    assert_eq!(kinds(&i, MomentKind::ErrorClick), [1000]);
    let ec = first(&i, MomentKind::ErrorClick);
    assert_eq!(ec.detail["message"], "Uncaught Error: boom");
    assert!(is_uncaught("Unhandled rejection \"x\""));
    assert!(!is_uncaught("error: Uncaught later"));
}

#[test]
fn network_errors_and_slow_requests() {
    let mut evs = page(T0, "https://a.test/", 1);
    evs.push(request(T0 + 1000, 500, 10.0));
    evs.push(request(T0 + 2000, 0, 10.0));
    evs.push(request(T0 + 3000, 200, 2999.0));
    evs.push(request(T0 + 4000, 200, 3000.0));
    evs.push(request(T0 + 5000, 399, 3500.0));
    let i = run(evs);
    assert_eq!(kinds(&i, MomentKind::NetworkError), [1000, 2000]);
    assert_eq!(kinds(&i, MomentKind::SlowRequest), [4000, 5000]);
    let m = first(&i, MomentKind::NetworkError);
    assert_eq!(m.detail["status"], 500);
    assert_eq!(m.detail["method"], "POST");
}

#[test]
fn navigation_reload_thrash_and_form_submit() {
    let mut evs = page(T0, "https://a.test/", 1);
    // Form submit: the button without a type inside form#login.
    evs.push(click(T0 + 500, "161".into(), 1.0, 1.0));
    // A re-snapshot of the same document (ids continue) is not a reload …
    evs.extend(page(T0 + 1000, "https://a.test/", 500));
    // … a new document with the same URL (ids restart) is.
    evs.extend(page(T0 + 2000, "https://a.test/", 1));
    // Back and forth between / and /b three times within a minute.
    evs.extend(page(T0 + 10_000, "https://a.test/b", 1));
    evs.extend(page(T0 + 20_000, "https://a.test/", 1));
    evs.extend(page(T0 + 30_000, "https://a.test/b", 1));
    let i = run(evs);
    assert_eq!(kinds(&i, MomentKind::FormSubmit), [500]);
    assert_eq!(
        first(&i, MomentKind::FormSubmit).detail["form"],
        "form#login"
    );
    assert_eq!(kinds(&i, MomentKind::Reload), [2000]);
    assert_eq!(kinds(&i, MomentKind::Navigation), [10_000, 20_000, 30_000]);
    assert_eq!(kinds(&i, MomentKind::Thrash), [10_000]);
    // Pages in order with time spent.
    let p: Vec<(&str, i64, i64)> = i
        .summary
        .pages
        .iter()
        .map(|p| (p.url.as_str(), p.t_ms, p.duration_ms))
        .collect();
    assert_eq!(
        p,
        [
            ("https://a.test/", 0, 10_000),
            ("https://a.test/b", 10_000, 10_000),
            ("https://a.test/", 20_000, 10_000),
            ("https://a.test/b", 30_000, 0)
        ]
    );
    assert_eq!(i.summary.form_submits, 1);
}

#[test]
fn idle_is_a_gap_of_30_s_in_all_windows() {
    let mut evs = page(T0, "https://a.test/", 1);
    evs.push(mouse(T0 + 1000));
    evs.push(mouse(T0 + 30_999)); // 29.999 s: not idle
    evs.push(mouse(T0 + 61_000)); // 30.001 s: idle
    let mut s = session(evs.clone());
    let i = analyze_session(&s, &Config::default());
    assert_eq!(kinds(&i, MomentKind::Idle), [30_999]);
    assert_eq!(first(&i, MomentKind::Idle).detail["duration_ms"], 30_001);
    // Activity in another window during the gap: not idle.
    s.window_mut("w2").events = vec![mouse(T0 + 45_000)];
    let i = analyze_session(&s, &Config::default());
    assert!(kinds(&i, MomentKind::Idle).is_empty());
}

#[test]
fn custom_moments_are_the_tags_asked_for() {
    let mut evs = page(T0, "https://a.test/", 1);
    evs.push(ev(format!(
        r#"{{"type":5,"data":{{"tag":"checkout-started","payload":{{}}}},"timestamp":{}}}"#,
        T0 + 100
    )));
    evs.push(ev(format!(
        r#"{{"type":5,"data":{{"tag":"other","payload":{{}}}},"timestamp":{}}}"#,
        T0 + 200
    )));
    let s = session(evs);
    assert_eq!(
        analyze_session(&s, &Config::default()).count(MomentKind::Custom),
        0
    );
    let c = Config {
        custom_tags: vec!["checkout-started".into()],
    };
    let i = analyze_session(&s, &c);
    assert_eq!(kinds(&i, MomentKind::Custom), [100]);
}

#[test]
fn summary_flags_and_text() {
    let mut evs = page(T0, "https://a.test/", 1);
    // Fill the email field (twice: one field), never submit, rage-click #dead, then an error.
    evs.push(ev(format!(
        r#"{{"type":3,"data":{{"source":5,"id":151,"text":"a"}},"timestamp":{}}}"#,
        T0 + 100
    )));
    evs.push(ev(format!(
        r#"{{"type":3,"data":{{"source":5,"id":151,"text":"ab"}},"timestamp":{}}}"#,
        T0 + 200
    )));
    for k in 0..4 {
        evs.push(click(T0 + 1000 + k * 100, "121".into(), 5.0, 5.0));
    }
    evs.push(console(
        T0 + 1500,
        "error",
        "Uncaught TypeError: x is undefined",
    ));
    let i = run(evs);
    let s = &i.summary;
    assert_eq!((s.clicks, s.fields_filled), (4, 1));
    let input = s.key_actions.iter().find(|a| a.kind == "input").unwrap();
    assert!(input.abandonment);
    assert!(!input.description.contains("ab"), "{}", input.description);
    let rage = s.key_actions.iter().find(|a| a.kind == "click").unwrap();
    assert!(rage.confusion && rage.exception, "{rage:?}");
    assert!(rage.description.contains("4 times"), "{}", rage.description);
    assert!(!s.outcome.success);
    assert!(s.text.contains("1 rage click"), "{}", s.text);
    assert!(s.text.contains("1 uncaught exception"), "{}", s.text);
    assert_eq!(s.segments.len(), 1);
    assert!(s.segments[0].failure);
}

#[test]
fn packed_and_odd_events_do_not_panic() {
    let mut evs = page(T0, "https://a.test/", 1);
    for s in [
        r#"{"type":3,"data":{"source":2,"type":2,"id":"x","x":"y"},"timestamp":5}"#,
        r#"{"type":6,"data":{"plugin":"rrweb/network@1","payload":{"requests":"no"}},"timestamp":5}"#,
        r#"{"type":6,"data":{"plugin":"rrweb/console@1","payload":null},"timestamp":5}"#,
        r#"{"type":3,"data":{"source":5},"timestamp":5}"#,
        r#"{"type":4,"data":{},"timestamp":5}"#,
    ] {
        evs.push(ev(s.to_string()));
    }
    let _ = run(evs);
}

proptest! {
    /// However clicks and errors fall, moments are in time order, inside the session, and
    /// counts match the moments kept.
    #[test]
    fn moments_are_ordered_and_counted(steps in proptest::collection::vec((0i64..3000, 0u8..6, 0f64..60.0), 1..60)) {
        let mut evs = page(T0, "https://a.test/", 1);
        let mut t = T0;
        for (gap, what, x) in steps {
            t += gap;
            evs.push(match what {
                0 => click(t, "121".into(), x, x),
                1 => click(t, "101".into(), x, x),
                2 => mutation(t),
                3 => console(t, "error", "Uncaught x"),
                4 => request(t, 500, x * 100.0),
                _ => mouse(t),
            });
        }
        let i = run(evs);
        let end = t - T0;
        let mut last = 0;
        for m in &i.moments {
            prop_assert!(m.t_ms >= last && m.t_ms <= end);
            last = m.t_ms;
        }
        for k in MomentKind::ALL {
            let n = i.moments.iter().filter(|m| m.kind == k).count() as u64;
            prop_assert_eq!(n, i.count(k));
        }
    }
}
