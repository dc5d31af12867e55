/*
 * verify.js: the verification page of certsvc (GET /verify).
 *
 * A person drops an envelope file (docs/envelope.md) or types a 免证办
 * code; the page asks certsvcd and shows its answer check by check.  With
 * no verifier token an envelope goes to the public POST /verify, with one
 * to POST /v1/verify; a code always needs the token (POST
 * /v1/codes/redeem).  Everything from the server or the file is shown with
 * textContent, never as HTML, and no script runs inline (the page's
 * Content-Security-Policy forbids it).
 */
(function () {
	'use strict';

	var FILE_MAX = 4 * 1024 * 1024;
	var ENVELOPE_MEMBERS = ['format', 'id', 'version', 'document', 'seal'];

	var TEXT = {
		zh: {
			title: '电子证照验证',
			intro: '选择或拖入电子证照文件，或输入免证办码，逐项查看验证结果。',
			file_heading: '证照文件',
			file_drop: '点击选择或将证照文件（.json）拖到此处',
			code_heading: '免证办码（用证方）',
			code_label: '免证办码',
			token_label: '用证方令牌',
			token_hint: '兑换免证办码需要令牌；验证证照文件时可不填，填写后以该用证方身份验证。',
			redeem: '兑换并验证',
			scan: '扫码',
			scan_stop: '停止扫码',
			busy: '正在验证……',
			result_heading: '验证结果',
			licence_id: '证照标识',
			version: '版本',
			source: '来源',
			purpose: '用途',
			checks_heading: '逐项检查',
			details_heading: '证照内容',
			details_hint: '以下内容取自证照文件本身，仅在结果为“有效”时可以信赖。',
			report_download: '下载签名验证报告',
			report_hint: '验证报告由本系统签名，可用 openssl cms -verify 和根证书离线核验。',
			root_cert: '根证书',
			lang_other: 'English',
			source_file: '证照文件',
			source_code: '免证办码',
			report_id: '报告编号：',
			err_prefix: '出错了：',
			err_not_json: '文件不是 JSON 格式。',
			err_not_envelope: '文件不是电子证照（缺少 document 或 seal）。',
			err_too_large: '文件过大。',
			err_no_code: '请输入免证办码。',
			err_no_token: '兑换免证办码需要用证方令牌。',
			err_network: '无法连接服务器。',
			err_answer: '服务器的应答无法识别。',
			err_camera: '无法使用摄像头。',
			err_http: {
				400: '请求有误',
				401: '令牌无效或缺失',
				403: '无权执行此操作',
				404: '未找到（码无效、已过期或已使用）',
				413: '文件过大',
				429: '尝试次数过多，请稍后再试',
				501: '该功能尚未开放',
				503: '服务暂不可用，请稍后再试'
			},
			overall: {valid: '有效', invalid: '无效', indeterminate: '无法确定'},
			result: {
				pass: '通过',
				fail: '未通过',
				indeterminate: '无法确定',
				not_applicable: '不适用'
			},
			check: {
				document_format: '文件格式',
				seal_signature: '电子印章签名',
				certificate_chain: '证书链',
				certificate_status: '印章证书状态',
				licence_status: '证照状态',
				validity_period: '有效期',
				timestamp: '时间戳'
			},
			field: {
				type: '证照类型',
				issuer: '发证机关',
				holder: '持证主体',
				holder_id: '证件号码',
				valid: '有效期',
				issued_at: '签发时间'
			}
		},
		en: {
			title: 'Licence verification',
			intro: 'Choose or drop an e-licence file, or enter a code, and see the result check by check.',
			file_heading: 'Licence file',
			file_drop: 'Tap to choose, or drop a licence file (.json) here',
			code_heading: 'Code (relying parties)',
			code_label: 'Code',
			token_label: 'Verifier token',
			token_hint: 'Redeeming a code needs a token. For a file it is optional: when filled in, you verify as that relying party.',
			redeem: 'Redeem and verify',
			scan: 'Scan',
			scan_stop: 'Stop scanning',
			busy: 'Verifying…',
			result_heading: 'Result',
			licence_id: 'Licence',
			version: 'Version',
			source: 'Source',
			purpose: 'Purpose',
			checks_heading: 'Checks',
			details_heading: 'Licence contents',
			details_hint: 'Taken from the file itself: trust it only when the result is valid.',
			report_download: 'Download the signed verification report',
			report_hint: 'The report is signed by this service; check it offline with openssl cms -verify and the root certificate.',
			root_cert: 'Root certificate',
			lang_other: '中文',
			source_file: 'licence file',
			source_code: 'code',
			report_id: 'Report ',
			err_prefix: 'Error: ',
			err_not_json: 'The file is not JSON.',
			err_not_envelope: 'The file is not an e-licence (no document or seal).',
			err_too_large: 'The file is too large.',
			err_no_code: 'Please enter a code.',
			err_no_token: 'Redeeming a code needs a verifier token.',
			err_network: 'Cannot reach the server.',
			err_answer: 'The server\'s answer was not understood.',
			err_camera: 'The camera cannot be used.',
			err_http: {
				400: 'bad request',
				401: 'missing or unknown token',
				403: 'not allowed',
				404: 'not found (unknown, expired or used code)',
				413: 'too large',
				429: 'too many attempts, try again later',
				501: 'not available yet',
				503: 'service unavailable, try again shortly'
			},
			overall: {valid: 'Valid', invalid: 'Invalid', indeterminate: 'Indeterminate'},
			result: {
				pass: 'Pass',
				fail: 'Fail',
				indeterminate: 'Indeterminate',
				not_applicable: 'Not applicable'
			},
			check: {
				document_format: 'Document format',
				seal_signature: 'Seal signature',
				certificate_chain: 'Certificate chain',
				certificate_status: 'Seal certificate status',
				licence_status: 'Licence status',
				validity_period: 'Validity period',
				timestamp: 'Timestamp'
			},
			field: {
				type: 'Licence type',
				issuer: 'Issuer',
				holder: 'Holder',
				holder_id: 'Identifier',
				valid: 'Valid',
				issued_at: 'Issued at'
			}
		}
	};

	var lang = 'zh';
	/* What is shown, kept so that a language switch can redraw it. */
	var shown = null;
	var errorShown = null;
	var reportUrl = null;
	var scanStream = null;
	var scanTimer = null;

	function $(id) {
		return document.getElementById(id);
	}

	function t(key) {
		return TEXT[lang][key];
	}

	function pickLanguage() {
		var saved = null;

		try {
			saved = window.localStorage.getItem('certsvc-lang');
		} catch (e) {
			saved = null;
		}
		if (saved === 'zh' || saved === 'en')
			return saved;
		return (navigator.language || 'zh').toLowerCase().indexOf('zh') === 0 ?
		    'zh' : 'en';
	}

	function applyLanguage() {
		var nodes = document.querySelectorAll('[data-i18n]');
		var i, key;

		document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
		document.title = lang === 'zh' ?
		    '电子证照验证 · Licence verification' :
		    'Licence verification · 电子证照验证';
		for (i = 0; i < nodes.length; i++) {
			key = nodes[i].getAttribute('data-i18n');
			if (typeof TEXT[lang][key] === 'string')
				nodes[i].textContent = TEXT[lang][key];
		}
		$('lang-toggle').textContent = t('lang_other');
		$('lang-toggle').lang = lang === 'zh' ? 'en' : 'zh-CN';
		if (shown !== null)
			renderResult(shown.answer, shown.source, shown.envelope);
		if (errorShown !== null)
			showError(errorShown);
	}

	function toggleLanguage() {
		lang = lang === 'zh' ? 'en' : 'zh';
		try {
			window.localStorage.setItem('certsvc-lang', lang);
		} catch (e) {
			/* private mode: the choice lasts for this page only */
		}
		applyLanguage();
	}

	/* --- messages --------------------------------------------------------- */

	/*
	 * err is {key} for one of our messages or {status, message} for an
	 * HTTP error; kept so that it follows a language switch.
	 */
	function showError(err) {
		var box = $('error');
		var text;

		errorShown = err;
		if (err.key) {
			text = t(err.key);
		} else {
			text = 'HTTP ' + err.status;
			if (t('err_http')[err.status])
				text += ' ' + t('err_http')[err.status];
			if (err.message)
				text += ': ' + err.message;
		}
		box.textContent = t('err_prefix') + text;
		box.hidden = false;
	}

	function clearMessages() {
		errorShown = null;
		$('error').hidden = true;
		$('error').textContent = '';
	}

	function setBusy(on) {
		$('busy').hidden = !on;
		$('redeem').disabled = on;
		$('envelope-file').disabled = on;
	}

	/* --- the result ------------------------------------------------------- */

	function clearResult() {
		shown = null;
		$('result').hidden = true;
		if (reportUrl !== null) {
			URL.revokeObjectURL(reportUrl);
			reportUrl = null;
		}
	}

	function addPair(list, label, value) {
		var dt = document.createElement('dt');
		var dd = document.createElement('dd');

		dt.textContent = label;
		dd.textContent = value;
		list.appendChild(dt);
		list.appendChild(dd);
	}

	/* base64 (RFC 4648) to a UTF-8 string; null when it is not. */
	function decodeBase64Utf8(s) {
		var bin, bytes, i;

		try {
			bin = window.atob(s);
			bytes = new Uint8Array(bin.length);
			for (i = 0; i < bin.length; i++)
				bytes[i] = bin.charCodeAt(i);
			return new TextDecoder('utf-8', {fatal: true}).decode(bytes);
		} catch (e) {
			return null;
		}
	}

	function str(v) {
		return typeof v === 'string' || typeof v === 'number' ? String(v) : '';
	}

	/* What the document says, from the envelope (not trusted by itself). */
	function renderDetails(envelope) {
		var list = $('details-list');
		var text, doc, f;

		list.textContent = '';
		$('details').hidden = true;
		if (!envelope || typeof envelope.document !== 'string')
			return;
		text = decodeBase64Utf8(envelope.document);
		if (text === null)
			return;
		try {
			doc = JSON.parse(text);
		} catch (e) {
			return;
		}
		if (!doc || typeof doc !== 'object')
			return;
		f = t('field');
		if (doc.type)
			addPair(list, f.type, str(doc.type.name) || str(doc.type.code));
		if (doc.issuer)
			addPair(list, f.issuer, str(doc.issuer.name) + ' ' +
			    str(doc.issuer.credit_code));
		if (doc.holder) {
			addPair(list, f.holder, str(doc.holder.name));
			addPair(list, f.holder_id, str(doc.holder.id_number));
		}
		if (doc.valid_from || doc.valid_until)
			addPair(list, f.valid, str(doc.valid_from) + ' – ' +
			    str(doc.valid_until));
		if (doc.issued_at)
			addPair(list, f.issued_at, str(doc.issued_at));
		$('details').hidden = list.childNodes.length === 0;
	}

	function renderResult(answer, source, envelope) {
		var overall = $('result-overall');
		var list = $('checks');
		var i, c, li, name, res, reason;
		var results = t('result');
		var names = t('check');
		var label = t('overall')[answer.result] || String(answer.result);

		shown = {answer: answer, source: source, envelope: envelope};
		overall.textContent = label;
		overall.setAttribute('data-result', String(answer.result));
		overall.className = 'overall ' + (TEXT.en.overall[answer.result] ?
		    answer.result : 'indeterminate');
		$('result-licence').textContent = answer.licence_id ?
		    String(answer.licence_id) : '-';
		$('result-version').textContent = answer.version != null ?
		    String(answer.version) : '-';
		$('result-source').textContent = t(source);
		/* A redemption says what the holder granted the code for. */
		$('result-purpose').textContent = str(answer.purpose);
		$('result-purpose').hidden = !answer.purpose;
		$('purpose-label').hidden = !answer.purpose;
		list.textContent = '';
		for (i = 0; i < answer.checks.length; i++) {
			c = answer.checks[i] || {};
			li = document.createElement('li');
			li.setAttribute('data-check', str(c.name));
			li.setAttribute('data-result', str(c.result));
			li.className = 'check ' + (results[c.result] ? c.result :
			    'indeterminate');
			name = document.createElement('span');
			name.className = 'check-name';
			name.textContent = names[c.name] || str(c.name);
			res = document.createElement('span');
			res.className = 'check-result';
			res.textContent = results[c.result] || str(c.result);
			reason = document.createElement('span');
			reason.className = 'check-reason';
			reason.textContent = str(c.reason);
			li.appendChild(name);
			li.appendChild(res);
			li.appendChild(reason);
			list.appendChild(li);
		}
		renderDetails(envelope);
		renderReport(answer.report);
		$('result').hidden = false;
	}

	function renderReport(report) {
		var link = $('report-link');

		if (reportUrl !== null) {
			URL.revokeObjectURL(reportUrl);
			reportUrl = null;
		}
		if (!report || typeof report !== 'object') {
			link.hidden = true;
			$('report-id').textContent = '';
			return;
		}
		reportUrl = URL.createObjectURL(new Blob(
		    [JSON.stringify(report, null, 2) + '\n'],
		    {type: 'application/json'}));
		link.href = reportUrl;
		link.download = (str(report.id) || 'report') + '.json';
		link.hidden = false;
		$('report-id').textContent = report.id ? t('report_id') +
		    str(report.id) : '';
	}

	/* On a phone the result is below the fold: bring it up. */
	function scrollToResult() {
		var r = $('result');

		if (typeof r.scrollIntoView === 'function')
			r.scrollIntoView({block: 'start'});
	}

	/* The verification answer inside a redemption answer, or null. */
	function findVerification(answer) {
		var keys = ['verification', 'verify', 'result', 'report_answer'];
		var i, v;

		if (!answer || typeof answer !== 'object')
			return null;
		for (i = 0; i < keys.length; i++) {
			v = answer[keys[i]];
			if (v && typeof v === 'object' && Array.isArray(v.checks))
				return v;
		}
		if (Array.isArray(answer.checks))
			return answer;
		return null;
	}

	/* --- talking to certsvcd ---------------------------------------------- */

	function post(path, body, token) {
		var headers = {'Content-Type': 'application/json'};

		if (token)
			headers.Authorization = 'Bearer ' + token;
		return fetch(path, {
			method: 'POST',
			headers: headers,
			body: JSON.stringify(body),
			credentials: 'omit',
			cache: 'no-store'
		}).then(function (resp) {
			return resp.text().then(function (text) {
				var json = null;

				try {
					json = JSON.parse(text);
				} catch (e) {
					json = null;
				}
				return {status: resp.status, json: json};
			});
		});
	}

	function httpError(r) {
		var msg = r.json && r.json.error && r.json.error.message;

		showError({status: r.status, message: msg ? String(msg) : ''});
	}

	function verifyEnvelope(envelope) {
		var token = $('token').value.trim();
		var picked = {};
		var i;

		for (i = 0; i < ENVELOPE_MEMBERS.length; i++)
			if (envelope[ENVELOPE_MEMBERS[i]] !== undefined)
				picked[ENVELOPE_MEMBERS[i]] = envelope[ENVELOPE_MEMBERS[i]];
		setBusy(true);
		post(token ? '/v1/verify' : '/verify', {envelope: picked}, token)
		    .then(function (r) {
			setBusy(false);
			if (r.status !== 200)
				return httpError(r);
			if (!r.json || !Array.isArray(r.json.checks))
				return showError({key: 'err_answer'});
			renderResult(r.json, 'source_file', picked);
			scrollToResult();
		    }, function () {
			setBusy(false);
			showError({key: 'err_network'});
		    });
	}

	function verifyFile(file) {
		clearMessages();
		clearResult();
		if (!file)
			return;
		$('file-name').textContent = file.name;
		$('file-name').hidden = false;
		if (file.size > FILE_MAX)
			return showError({key: 'err_too_large'});
		file.text().then(function (text) {
			var obj;

			try {
				obj = JSON.parse(text);
			} catch (e) {
				return showError({key: 'err_not_json'});
			}
			/* An issuance or redemption answer holds the envelope. */
			if (obj && typeof obj === 'object' && obj.envelope &&
			    typeof obj.envelope === 'object')
				obj = obj.envelope;
			if (!obj || typeof obj !== 'object' ||
			    typeof obj.document !== 'string' ||
			    typeof obj.seal !== 'string')
				return showError({key: 'err_not_envelope'});
			verifyEnvelope(obj);
		}, function () {
			showError({key: 'err_not_json'});
		});
	}

	/* A code, or a URL carrying one in ?code=, as a scanner may read it. */
	function codeFrom(text) {
		var u;

		text = String(text).trim();
		if (/^https?:\/\//i.test(text)) {
			try {
				u = new URL(text);
				if (u.searchParams.get('code'))
					return u.searchParams.get('code');
			} catch (e) {
				return text;
			}
		}
		return text;
	}

	function redeem(ev) {
		var code = codeFrom($('code').value);
		var token = $('token').value.trim();

		if (ev)
			ev.preventDefault();
		clearMessages();
		clearResult();
		if (!code)
			return showError({key: 'err_no_code'});
		if (!token)
			return showError({key: 'err_no_token'});
		setBusy(true);
		post('/v1/codes/redeem', {code: code}, token).then(function (r) {
			var v;

			setBusy(false);
			if (r.status !== 200)
				return httpError(r);
			v = findVerification(r.json);
			if (v === null)
				return showError({key: 'err_answer'});
			renderResult(v, 'source_code', r.json.envelope || null);
			scrollToResult();
		}, function () {
			setBusy(false);
			showError({key: 'err_network'});
		});
	}

	/* --- QR scanning, where the browser has BarcodeDetector ---------------- */

	function stopScan() {
		if (scanTimer !== null)
			window.clearTimeout(scanTimer);
		scanTimer = null;
		if (scanStream !== null)
			scanStream.getTracks().forEach(function (tr) {
				tr.stop();
			});
		scanStream = null;
		$('scanner').hidden = true;
	}

	function startScan() {
		var video = $('scan-video');
		var detector;

		clearMessages();
		try {
			detector = new window.BarcodeDetector({formats: ['qr_code']});
		} catch (e) {
			return showError({key: 'err_camera'});
		}
		navigator.mediaDevices.getUserMedia({
			video: {facingMode: 'environment'}, audio: false
		}).then(function (stream) {
			scanStream = stream;
			video.srcObject = stream;
			$('scanner').hidden = false;
			return video.play();
		}).then(function () {
			var tick = function () {
				detector.detect(video).then(function (codes) {
					if (scanStream === null)
						return;
					if (codes.length > 0) {
						$('code').value = codeFrom(codes[0].rawValue);
						stopScan();
						if ($('token').value.trim())
							redeem(null);
						return;
					}
					scanTimer = window.setTimeout(tick, 250);
				}, function () {
					scanTimer = window.setTimeout(tick, 500);
				});
			};
			tick();
		}).catch(function () {
			stopScan();
			showError({key: 'err_camera'});
		});
	}

	/* --- wiring ------------------------------------------------------------ */

	function init() {
		var drop = $('drop');
		var params = new URLSearchParams(window.location.search);

		lang = pickLanguage();
		applyLanguage();
		$('lang-toggle').addEventListener('click', toggleLanguage);
		$('envelope-file').addEventListener('change', function (ev) {
			verifyFile(ev.target.files[0]);
			ev.target.value = '';
		});
		drop.addEventListener('dragover', function (ev) {
			ev.preventDefault();
			drop.classList.add('over');
		});
		drop.addEventListener('dragleave', function () {
			drop.classList.remove('over');
		});
		drop.addEventListener('drop', function (ev) {
			ev.preventDefault();
			drop.classList.remove('over');
			if (ev.dataTransfer && ev.dataTransfer.files.length > 0)
				verifyFile(ev.dataTransfer.files[0]);
		});
		$('code-form').addEventListener('submit', redeem);
		if ('BarcodeDetector' in window && navigator.mediaDevices &&
		    navigator.mediaDevices.getUserMedia) {
			$('scan').hidden = false;
			$('scan').addEventListener('click', startScan);
			$('scan-stop').addEventListener('click', stopScan);
		}
		if (params.get('code'))
			$('code').value = params.get('code');
		document.body.setAttribute('data-ready', '1');
	}

	if (document.readyState === 'loading')
		document.addEventListener('DOMContentLoaded', init);
	else
		init();
}());
