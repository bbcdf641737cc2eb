# Golden values for app/scoring/agreement.py, computed by the field's own software.
#
#   apt-get install -y r-base-core r-cran-multilevel r-cran-psych   (r-cran-jsonlite comes with psych)
#   Rscript scripts/golden/agreement.R
#
# writes tests/scoring/golden/agreement_golden.json (inputs and expected values) and each input
# data set as tests/scoring/golden/agreement_<name>.csv.
#
# Every data set is written out in full (raw answers BEFORE reverse-scoring, null = no scored
# answer), so the Python tests read their input from the same file as the expected values and
# never need R. CI does not run R; re-run this script by hand when a data set is added.
#
# What comes from where:
#   rwg (per item)       multilevel::rwg          (drops missing answers item by item)
#   rwg(j), listwise     multilevel::rwg.j        (drops every respondent with a missing answer)
#   awg (per item)       multilevel::awg, one item at a time
#   awg(j), listwise     multilevel::awg on the item matrix
#   ICC(1), ICC(2)       multilevel::ICC1 / ICC2 on aov(score ~ site), score = respondent mean
#   alpha + Feldt CI     psych::alpha (raw_alpha, $feldt) on the complete cases
# PeerReady's own rule for incomplete data ("available": each item's variance over the
# respondents who answered it, items with at least 2 answers) has no package function; it is
# computed below with base R from multilevel's own formulas and labelled "available". On
# complete data the script checks that both rules give the same numbers (like with like).

suppressPackageStartupMessages({
  library(multilevel)
  library(psych)
  library(jsonlite)
})

out_file <- "tests/scoring/golden/agreement_golden.json"
if (!dir.exists(dirname(out_file))) stop("run from the repository root")

null_variance <- function(points) (points^2 - 1) / 12

# ---- data sets --------------------------------------------------------------------------------

# A generated data set: answers = site level + person noise, rounded and clamped to the scale.
# A reverse item is answered the other way round (what a respondent would tick).
simulate <- function(seed, sizes, items, reverse, points, site_sd, person_sd, missing = 0) {
  set.seed(seed)
  rows <- list()
  sites <- sprintf("s%02d", seq_along(sizes))
  site_level <- rnorm(length(sizes), mean = (points + 1) / 2 + 0.6, sd = site_sd)
  X <- NULL
  grp <- character(0)
  for (s in seq_along(sizes)) {
    for (r in seq_len(sizes[s])) {
      person <- site_level[s] + rnorm(1, 0, person_sd * 0.6)
      answers <- sapply(items, function(i) {
        v <- round(person + rnorm(1, 0, person_sd))
        v <- min(max(v, 1), points)
        if (i %in% reverse) v <- points + 1 - v
        v
      })
      X <- rbind(X, answers)
      grp <- c(grp, sites[s])
    }
  }
  colnames(X) <- items
  rownames(X) <- NULL
  if (missing > 0) {
    holes <- matrix(runif(length(X)) < missing, nrow(X))
    X[holes] <- NA
  }
  list(X = X, site = grp)
}

from_rows <- function(site, ...) {
  X <- rbind(...)
  rownames(X) <- NULL
  list(X = X, site = site)
}

datasets <- list()

add <- function(name, description, d, items, reverse, points, icc = TRUE, alpha = TRUE) {
  colnames(d$X) <- items
  datasets[[length(datasets) + 1]] <<- list(
    name = name, description = description, X = d$X, site = d$site, items = items,
    reverse = reverse, points = points, icc = icc, alpha = alpha
  )
}

add(
  "agree5_unequal_sites",
  "5-point scale, 4 items (q4 reverse-scored), six sites of 3 to 25 respondents, complete answers.",
  simulate(20250501, c(3, 4, 6, 9, 15, 25), c("q1", "q2", "q3", "q4"), "q4", 5, 0.7, 0.8),
  c("q1", "q2", "q3", "q4"), "q4", 5
)

add(
  "agree7_unequal_sites",
  "7-point scale, 6 items (r2 and r5 reverse-scored), six sites of 2 to 40 respondents, complete answers.",
  simulate(7, c(2, 5, 7, 12, 20, 40), paste0("r", 1:6), c("r2", "r5"), 7, 1.0, 1.2),
  paste0("r", 1:6), c("r2", "r5"), 7
)

# Variances above the uniform null (2.0) are truncated: rwg = rwg(j) = 0.
add(
  "agree5_truncation",
  "5-point scale, 3 items: a site split between 1 and 5 (variance 4.8 > 2), a wide site and a tight one.",
  from_rows(
    c(rep("split", 6), rep("wide", 5), rep("tight", 5)),
    c(1, 5, 1), c(5, 1, 5), c(1, 5, 1), c(5, 1, 5), c(1, 5, 1), c(5, 1, 5),
    c(1, 2, 5), c(5, 4, 1), c(3, 1, 4), c(2, 5, 2), c(4, 3, 5),
    c(4, 4, 4), c(4, 5, 4), c(5, 4, 4), c(4, 4, 3), c(4, 4, 4)
  ),
  c("t1", "t2", "t3"), character(0), 5
)

# awg's edges. Bounds for k raters on 1..5: M must lie in [(k - 1 + 5)/k, (5(k - 1) + 1)/k].
add(
  "agree5_awg_edges",
  paste(
    "5-point scale, 3 items (e3 reverse-scored; raw answers shown before reversal): a site at the top",
    "of the scale (awg = 1 by R's rule), one near the top (awg NA), a pair in the middle, a pair off",
    "the middle (NA), a trio whose mean sits exactly on the bound (7/3), and a single respondent."
  ),
  from_rows(
    c(rep("top", 3), rep("near_top", 3), rep("pair_mid", 2), rep("pair_off", 2), rep("on_bound", 3), "single"),
    c(5, 5, 1), c(5, 5, 1), c(5, 5, 1),
    c(5, 5, 1), c(5, 4, 2), c(4, 5, 1),
    c(2, 3, 3), c(4, 3, 3),
    c(3, 4, 3), c(4, 3, 2),
    c(2, 2, 4), c(2, 3, 4), c(3, 2, 3),
    c(4, 2, 3)
  ),
  c("e1", "e2", "e3"), "e3", 5
)

add(
  "agree5_identical",
  paste(
    "5-point scale, 3 items: every respondent gives 3 everywhere. rwg = awg = 1; ICC and alpha are",
    "0/0 (R's aov returns rounding noise there, so no ICC is recorded; PeerReady reports no value)."
  ),
  from_rows(rep(c("a", "b"), each = 4), c(3, 3, 3), c(3, 3, 3), c(3, 3, 3), c(3, 3, 3),
            c(3, 3, 3), c(3, 3, 3), c(3, 3, 3), c(3, 3, 3)),
  c("i1", "i2", "i3"), character(0), 5, icc = FALSE
)

add(
  "agree5_sites_differ_not_people",
  "5-point scale, 2 items: everyone within a site agrees, sites differ (MSW = 0: ICC(1) = ICC(2) = 1).",
  from_rows(c(rep("a", 3), rep("b", 4), rep("c", 2)),
            c(2, 2), c(2, 2), c(2, 2), c(4, 4), c(4, 4), c(4, 4), c(4, 4), c(5, 5), c(5, 5)),
  c("u1", "u2"), character(0), 5, alpha = FALSE
)

add(
  "agree5_missing",
  paste(
    "5-point scale, 5 items (m2 reverse-scored), three sites of 4, 7 and 10 with about 15% of answers",
    "missing (Don't know, Not applicable or blank), so R's listwise rule and PeerReady's available-answers",
    "rule differ."
  ),
  simulate(15, c(4, 7, 10), paste0("m", 1:5), "m2", 5, 0.6, 0.9, missing = 0.15),
  paste0("m", 1:5), "m2", 5
)

add(
  "agree5_icc_negative",
  "5-point scale, 2 items: sites differ less than people within them (ICC(1) < 0), one site has a single respondent.",
  from_rows(c(rep("a", 4), rep("b", 4), rep("c", 3), "d"),
            c(1, 2), c(5, 4), c(2, 1), c(4, 5),
            c(1, 1), c(5, 5), c(3, 2), c(4, 4),
            c(1, 2), c(5, 4), c(2, 3),
            c(3, 4)),
  c("n1", "n2"), character(0), 5
)

# ---- statistics -------------------------------------------------------------------------------

na_to_null <- function(v) if (length(v) == 0 || !is.finite(v)) NULL else unname(v)

# PeerReady's rule for incomplete data, written with base R and multilevel's formulas.
rwg_j_available <- function(Xs, ranvar) {
  counts <- colSums(!is.na(Xs))
  use <- counts >= 2
  if (!any(use)) return(NA)
  S <- mean(apply(Xs[, use, drop = FALSE], 2, var, na.rm = TRUE))
  J <- sum(use)
  if (S > ranvar) S <- ranvar
  (J * (1 - S / ranvar)) / ((J * (1 - S / ranvar)) + S / ranvar)
}

per_item <- function(fun, Xr, site, ...) {
  res <- list()
  for (item in colnames(Xr)) {
    ok <- !is.na(Xr[, item])
    if (!any(ok)) next
    r <- fun(Xr[ok, item], site[ok], ...)
    res[[item]] <- r
  }
  res
}

lookup <- function(frame, column, s) {
  if (is.null(frame)) return(NULL)
  hit <- frame[as.character(frame$grpid) == s, column]
  if (length(hit) == 0) NULL else na_to_null(hit)
}

results <- list()
for (d in datasets) {
  low <- 1
  high <- d$points
  ranvar <- null_variance(d$points)
  X <- d$X
  Xr <- X
  for (item in d$reverse) Xr[, item] <- low + high - X[, item]  # raw' = max + min - raw
  site <- d$site
  complete_rows <- complete.cases(Xr)

  rwg_items <- per_item(rwg, Xr, site, ranvar = ranvar)
  awg_items <- per_item(awg, Xr, site, range = c(low, high))
  rwgj_listwise <- rwg.j(Xr, site, ranvar = ranvar)
  awgj_listwise <- awg(Xr, site, range = c(low, high))

  sites_out <- list()
  for (s in unique(site)) {
    in_site <- site == s
    Xs <- Xr[in_site, , drop = FALSE]
    item_rwg <- lapply(d$items, function(i) lookup(rwg_items[[i]], "rwg", s))
    item_awg <- lapply(d$items, function(i) lookup(awg_items[[i]], "a.wg", s))
    names(item_rwg) <- d$items
    names(item_awg) <- d$items
    defined_awg <- unlist(Filter(Negate(is.null), item_awg))
    awg_j_available <- if (length(defined_awg) == 0) NA else mean(defined_awg)
    available <- list(rwg_j = na_to_null(rwg_j_available(Xs, ranvar)), awg_j = na_to_null(awg_j_available))
    listwise <- list(
      n = sum(complete_rows & in_site),
      rwg_j = lookup(rwgj_listwise, "rwg.j", s),
      awg_j = lookup(awgj_listwise, "a.wg", s)
    )
    if (all(complete_rows)) {
      # Like with like: on complete data the two rules are the same numbers.
      stopifnot(identical(is.null(available$rwg_j), is.null(listwise$rwg_j)))
      if (!is.null(available$rwg_j)) stopifnot(abs(available$rwg_j - listwise$rwg_j) < 1e-12)
      stopifnot(identical(is.null(available$awg_j), is.null(listwise$awg_j)))
      if (!is.null(available$awg_j)) stopifnot(abs(available$awg_j - listwise$awg_j) < 1e-12)
    }
    sites_out[[s]] <- list(
      n = sum(in_site),
      rwg = item_rwg, awg = item_awg,
      available = available, listwise = listwise
    )
  }

  icc_out <- NULL
  if (d$icc) {
    score <- rowMeans(Xr, na.rm = TRUE)
    keep <- !is.nan(score)
    frame <- data.frame(score = score[keep], site = factor(site[keep]))
    model <- aov(score ~ site, data = frame)
    table <- summary(model)[[1]]
    icc_out <- list(
      icc1 = na_to_null(ICC1(model)), icc2 = na_to_null(ICC2(model)),
      ms_between = table[1, 3], ms_within = table[2, 3],
      df_between = table[1, 1], df_within = table[2, 1],
      # With no spread inside sites F is infinite; aov's rounding noise would make it ~1e31.
      f = if (table[2, 3] < 1e-12) NULL else na_to_null(table[1, 4]),
      mean_group_size = (table[2, 1] + table[1, 1] + 1) / (table[1, 1] + 1)
    )
  }

  alpha_out <- NULL
  if (d$alpha) {
    Xc <- Xr[complete_rows, , drop = FALSE]
    n <- nrow(Xc)
    k <- ncol(Xc)
    a <- tryCatch(
      suppressWarnings(psych::alpha(as.data.frame(Xc), check.keys = FALSE, warnings = FALSE)),
      error = function(e) NULL
    )
    if (!is.null(a) && is.finite(a$total$raw_alpha)) {
      raw <- a$total$raw_alpha
      # Feldt, written out (psych::alpha.ci): 1 - (1 - alpha) * F quantiles.
      lower <- 1 - (1 - raw) * qf(0.975, n - 1, (n - 1) * (k - 1))
      upper <- 1 - (1 - raw) * qf(0.025, n - 1, (n - 1) * (k - 1))
      stopifnot(abs(lower - a$feldt$lower.ci[[1]]) < 1e-12, abs(upper - a$feldt$upper.ci[[1]]) < 1e-12)
      alpha_out <- list(n = n, k = k, raw_alpha = raw, lower = lower, upper = upper)
    } else {
      alpha_out <- list(n = n, k = k, raw_alpha = NULL, lower = NULL, upper = NULL)
    }
  }

  # The input, also as CSV (raw answers before reverse-scoring, NA = no scored answer), for
  # anyone who wants to re-run it in R or elsewhere: read.csv(file).
  write.csv(
    data.frame(site = site, X, check.names = FALSE),
    file.path(dirname(out_file), paste0("agreement_", d$name, ".csv")),
    row.names = FALSE, quote = FALSE
  )
  rows <- lapply(seq_len(nrow(X)), function(r) {
    answers <- lapply(d$items, function(i) na_to_null(X[r, i]))
    names(answers) <- d$items
    list(site = site[r], answers = answers)
  })
  results[[length(results) + 1]] <- list(
    name = d$name, description = d$description,
    scale = list(low = low, high = high, points = d$points, null_variance = ranvar),
    items = d$items, reverse = I(d$reverse), rows = rows,
    sites = sites_out, icc = icc_out, alpha = alpha_out
  )
}

# F quantiles for the Feldt interval, on a grid of the degrees of freedom alpha meets.
f_quantiles <- list()
for (n in c(2, 3, 5, 12, 30, 100, 500)) {
  for (k in c(2, 3, 5, 16)) {
    for (p in c(0.025, 0.05, 0.5, 0.95, 0.975)) {
      f_quantiles[[length(f_quantiles) + 1]] <- list(
        p = p, df1 = n - 1, df2 = (n - 1) * (k - 1), q = qf(p, n - 1, (n - 1) * (k - 1))
      )
    }
  }
}

golden <- list(
  generated_by = "scripts/golden/agreement.R",
  r_version = R.version.string,
  multilevel_version = as.character(packageVersion("multilevel")),
  psych_version = as.character(packageVersion("psych")),
  datasets = results,
  f_quantiles = f_quantiles
)
writeLines(toJSON(golden, auto_unbox = TRUE, digits = NA, null = "null", na = "null", pretty = TRUE), out_file)
cat("wrote", out_file, "\n")
