// Vietnamese first, English second: chosen by the browser, changed with the switch, kept in this browser.

const WORDS = {
  vi: {
    appName: "Theo dõi thực hiện nghị quyết", login: "Đăng nhập", logout: "Đăng xuất", username: "Tên đăng nhập",
    password: "Mật khẩu", wrongLogin: "Sai tên đăng nhập hoặc mật khẩu.", tooMany: "Thử quá nhiều lần; hãy chờ {s} giây.",
    loading: "Đang tải…", offline: "Không kết nối được máy chủ.", sessionEnded: "Phiên làm việc đã kết thúc; hãy đăng nhập lại.",
    home: "Đơn vị của tôi", ranking: "Xếp hạng", myWork: "Việc của đơn vị", graphiql: "GraphiQL", language: "English",
    unit: "Đơn vị", children: "Đơn vị trực thuộc", total: "Tổng số", completed: "Hoàn thành", overdue: "Quá hạn",
    completionRate: "Tỷ lệ hoàn thành", onTimeRate: "Đúng hạn", averageProgress: "Tiến độ bình quân", kpis: "Chỉ tiêu (KPI)",
    green: "Đạt", yellow: "Cần chú ý", red: "Không đạt", none: "Chưa có", warnings: "Cảnh báo", noWarnings: "Không có cảnh báo.",
    discipline: "Kỷ luật báo cáo", completeness: "Đầy đủ", timeliness: "Kịp thời", disciplineIndex: "Chỉ số kỷ luật",
    period: "Kỳ", download: "Tải báo cáo", resolution: "Nghị quyết", allResolutions: "Tất cả nghị quyết",
    metric: "Chỉ số", median: "Trung vị", rank: "Hạng", value: "Giá trị", provinces: "Các tỉnh, thành phố",
    childrenOf: "Đơn vị trực thuộc của", noData: "Chưa có số liệu.", more: "Xem thêm", status: "Trạng thái", dueOn: "Hạn",
    progress: "Tiến độ (%)", note: "Ghi chú", submit: "Gửi", acknowledge: "Xác nhận đã nhận", acknowledged: "Đã xác nhận",
    reportProgress: "Báo cáo tiến độ", askExtension: "Xin gia hạn", newDueOn: "Hạn mới", reason: "Lý do", saved: "Đã lưu.",
    task: "Nhiệm vụ", assignee: "Đơn vị thực hiện", latestReport: "Báo cáo gần nhất", open: "Mở", back: "Quay lại",
    approve: "Duyệt", refuse: "Từ chối", extensions: "Đề nghị gia hạn", evaluate: "Đánh giá", rating: "Xếp loại", comment: "Nhận xét",
    not_started: "Chưa bắt đầu", in_progress: "Đang thực hiện", cancelled: "Đã hủy", pending: "Chờ duyệt", approved: "Đã duyệt",
    rejected: "Bị từ chối", lightGood: "Tốt", lightWatch: "Theo dõi", lightBad: "Chậm", lightNone: "Chưa có",
    COMPLETION_RATE: "Tỷ lệ hoàn thành", ON_TIME_RATE: "Tỷ lệ đúng hạn", AVERAGE_PROGRESS: "Tiến độ bình quân",
    OVERDUE: "Số việc quá hạn", COMPLETED: "Số việc hoàn thành", GREEN_SHARE: "Tỷ lệ KPI đạt", DISCIPLINE_INDEX: "Chỉ số kỷ luật báo cáo",
    REPORTING_TIMELINESS: "Báo cáo kịp thời", REPORTING_COMPLETENESS: "Báo cáo đầy đủ", live: "Trực tuyến",
    liveOn: "Cập nhật trực tiếp đang bật", updated: "Có cập nhật mới; đã tải lại.", showing: "Hiển thị {n} / {total}",
    notifications: "Thông báo", markRead: "Đã đọc", unreadCount: "{n} chưa đọc", step: "bước", due_soon: "Sắp đến hạn", data_returned: "Số liệu bị trả lại",
    report_missing: "Thiếu báo cáo", matrix: "Ma trận nhiệm vụ × đơn vị", kpiAttention: "Chỉ tiêu cần chú ý", targetShare: "Mức đạt mục tiêu",
    excellent: "Xuất sắc", good: "Tốt", satisfactory: "Đạt", unsatisfactory: "Chưa đạt",
  },
  en: {
    appName: "Resolution monitoring", login: "Log in", logout: "Log out", username: "Username", password: "Password",
    wrongLogin: "Wrong username or password.", tooMany: "Too many attempts; wait {s} seconds.", loading: "Loading…",
    offline: "Cannot reach the server.", sessionEnded: "Your session has ended; please log in again.",
    home: "My unit", ranking: "Ranking", myWork: "My unit's work", graphiql: "GraphiQL", language: "Tiếng Việt",
    unit: "Unit", children: "Sub-units", total: "Total", completed: "Completed", overdue: "Overdue",
    completionRate: "Completion rate", onTimeRate: "On time", averageProgress: "Average progress", kpis: "KPIs",
    green: "Green", yellow: "Yellow", red: "Red", none: "None", warnings: "Warnings", noWarnings: "No warnings.",
    discipline: "Reporting discipline", completeness: "Completeness", timeliness: "Timeliness", disciplineIndex: "Discipline index",
    period: "Period", download: "Download report", resolution: "Resolution", allResolutions: "All resolutions",
    metric: "Metric", median: "Median", rank: "Rank", value: "Value", provinces: "Provinces", childrenOf: "Sub-units of",
    noData: "No data yet.", more: "More", status: "Status", dueOn: "Due", progress: "Progress (%)", note: "Note",
    submit: "Submit", acknowledge: "Acknowledge", acknowledged: "Acknowledged", reportProgress: "Report progress",
    askExtension: "Ask for an extension", newDueOn: "New due date", reason: "Reason", saved: "Saved.", task: "Task",
    assignee: "Assignee", latestReport: "Latest report", open: "Open", back: "Back", approve: "Approve", refuse: "Refuse",
    extensions: "Extension requests", evaluate: "Evaluate", rating: "Rating", comment: "Comment",
    not_started: "Not started", in_progress: "In progress", cancelled: "Cancelled", pending: "Pending", approved: "Approved",
    rejected: "Rejected", lightGood: "Good", lightWatch: "Watch", lightBad: "Behind", lightNone: "No data",
    COMPLETION_RATE: "Completion rate", ON_TIME_RATE: "On-time rate", AVERAGE_PROGRESS: "Average progress", OVERDUE: "Overdue count",
    COMPLETED: "Completed count", GREEN_SHARE: "Green KPI share", DISCIPLINE_INDEX: "Discipline index",
    REPORTING_TIMELINESS: "Reporting timeliness", REPORTING_COMPLETENESS: "Reporting completeness", live: "Live",
    liveOn: "Live updates on", updated: "Something changed; reloaded.", showing: "Showing {n} of {total}",
    notifications: "Notifications", markRead: "Mark read", unreadCount: "{n} unread", step: "step", due_soon: "Due soon", data_returned: "Figure returned",
    report_missing: "Report missing", matrix: "Task × unit matrix", kpiAttention: "KPIs needing attention", targetShare: "Share of target",
    excellent: "Excellent", good: "Good", satisfactory: "Satisfactory", unsatisfactory: "Unsatisfactory",
  },
};

const STORED = "resolute.lang";

function initial() {
  const kept = localStorage.getItem(STORED);
  if (kept && WORDS[kept]) return kept;
  for (const tag of navigator.languages || [navigator.language || "vi"]) {
    const base = String(tag).slice(0, 2).toLowerCase();
    if (WORDS[base]) return base;
  }
  return "vi";
}

let current = initial();

export function lang() {
  return current;
}

export function setLang(code) {
  current = WORDS[code] ? code : "vi";
  localStorage.setItem(STORED, current);
  document.documentElement.lang = current;
}

export function t(key, params) {
  let text = WORDS[current][key] ?? WORDS.en[key] ?? key;
  for (const [name, value] of Object.entries(params || {})) text = text.replace(`{${name}}`, String(value));
  return text;
}

export function percent(x) {
  return x === null || x === undefined ? "–" : new Intl.NumberFormat(current === "vi" ? "vi-VN" : "en-GB", { style: "percent", maximumFractionDigits: 1 }).format(x);
}

export function number(x) {
  return x === null || x === undefined ? "–" : new Intl.NumberFormat(current === "vi" ? "vi-VN" : "en-GB", { maximumFractionDigits: 2 }).format(x);
}

document.documentElement.lang = current;
