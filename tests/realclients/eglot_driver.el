;;; Drives minicode-lsp from Emacs + Eglot in batch mode, the way a user's Emacs would.
;;; Environment: MC_WS (workspace), MC_SNIPPET (an Emacs setup of docs/editors/other.md, loaded
;;; as written), MC_ANSWERS (the approvals to give, one per line), MC_OUT (JSON result file),
;;; MC_SCENARIO: "alone" (MiniCode is the Python server) or "beside" (pylsp manages the Python
;;; buffers, MiniCode has a connection of its own).
;;;
;;; Prompts (window/showMessageRequest) are answered by Eglot's own handler, which calls
;;; `completing-read'; the advice below plays the user typing the next answer. stdin is empty:
;;; nothing in this run may block on a terminal read, and a prompt beyond the expected ones is
;;; an error that names it, never a hang.
;;;
;;; Tasks are started with the documented `minicode-run', which is asynchronous: Emacs 28's
;;; `jsonrpc-request' (jsonrpc 1.0.14) `throw's out of the process filter when its reply is
;;; read, and any message that arrived in the same read (a turn's events, the explain answer)
;;; stays unread in the process buffer until the server writes again. When a short turn ended
;;; in that read, nothing more came and the wait below never ended (the old "hang").
(require 'json)
(require 'cl-lib)
(require 'subr-x)
;; Batch Emacs reads no events, so file notifications never arrive: auto-revert (the "beside"
;; setup turns it on) polls instead, often.
(setq auto-revert-use-notify nil auto-revert-interval 0.5)
(load (getenv "MC_SNIPPET") nil t)

(setq eglot-sync-connect 30)
(defvar mc-ws (file-name-as-directory (getenv "MC_WS")))
(defvar mc-answers (split-string (or (getenv "MC_ANSWERS") "") "\n" t))
(defvar mc-scenario (or (getenv "MC_SCENARIO") "alone"))

(defvar mc-finished nil "Alist: turnId -> stopReason.")
(defvar mc-messages nil "window/showMessage texts.")
(defvar mc-prompts nil "Prompts seen, newest first.")
(cl-defmethod eglot-handle-notification (_s (_m (eql minicode/event)) &key turnId type data &allow-other-keys)
  (when (equal type "turn.finished")
    (push (cons turnId (plist-get data :stopReason)) mc-finished)))
(cl-defmethod eglot-handle-notification (_s (_m (eql minicode/readiness)) &rest _) nil)
(cl-defmethod eglot-handle-notification (_s (_m (eql minicode/sessions)) &rest _) nil)
(cl-defmethod eglot-handle-notification :before (_s (_m (eql window/showMessage)) &key message &allow-other-keys)
  (push message mc-messages))

(defvar mc-unexpected nil "Questions nobody expected, newest first (the test shows them).")
(defun mc-fail (fmt &rest args)
  "Record what went wrong and signal it. Inside Eglot's request handler the error becomes an
error answer (a decline) to the server; `mc-unexpected' keeps the text for the test."
  (let ((text (apply #'format fmt args)))
    (push text mc-unexpected)
    (signal 'error (list text))))

(advice-add 'completing-read :around
            (lambda (_orig prompt collection &rest _)
              (push prompt mc-prompts)
              (unless mc-answers
                (mc-fail "unexpected prompt #%d (no answer left): %s" (length mc-prompts) prompt))
              ;; The user types a line at the top of a.py while the second prompt is open.
              (when (and (equal mc-scenario "alone") (= (length mc-prompts) 2))
                (with-current-buffer (get-file-buffer (expand-file-name "a.py" mc-ws))
                  (save-excursion (goto-char (point-min)) (insert "# typed while the prompt was open\n"))))
              (let ((answer (pop mc-answers)))
                (unless (member answer collection)
                  (mc-fail "prompt #%d offers %S, not %S: %s" (length mc-prompts) collection answer prompt))
                answer)))
;; Any other question would read the (empty) stdin: make it a named failure too.
(dolist (fn '(y-or-n-p yes-or-no-p read-from-minibuffer read-string))
  (advice-add fn :before (lambda (prompt &rest _) (mc-fail "unexpected question: %s" prompt))))

;; Eglot sends didChange on an idle timer; batch Emacs is never idle, so a plain timer plays it.
(run-at-time 0.5 0.5
             (lambda ()
               (dolist (b (buffer-list))
                 (with-current-buffer b
                   (when (bound-and-true-p eglot--managed-mode)
                     (eglot--signal-textDocument/didChange))))))

;; What every Eglot connection has received but not yet handled (the diagnosis of a wait that failed).
(defun mc-unread ()
  (let (unread)
    (maphash (lambda (_project servers)
               (dolist (server servers)
                 (with-current-buffer (process-buffer (jsonrpc--process server))
                   (push (buffer-substring-no-properties (point) (min (point-max) (+ (point) 800))) unread))))
             eglot--servers-by-project)
    unread))

(defun mc-wait (what pred seconds)
  (let ((deadline (+ (float-time) seconds)))
    (while (and (not (funcall pred)) (< (float-time) deadline))
      (accept-process-output nil 0.1))
    (or (funcall pred)
        (mc-fail "%s: nothing after %d s; unread from the servers: %S" what seconds (mc-unread)))))

(defun mc-run (prompt &optional more)
  "Start a task with the documented `minicode-run'; return its ids."
  (let (ids)
    (minicode-run prompt more (lambda (result) (setq ids result)))
    (mc-wait (format "task.run %S" prompt) (lambda () ids) 30)))

(defun mc-turn (ids)
  (let ((turn (plist-get ids :turnId)))
    (mc-wait (format "turn %s" turn) (lambda () (cdr (assoc turn mc-finished))) 30)))

(defun mc-a-text ()
  (with-current-buffer (get-file-buffer (expand-file-name "a.py" mc-ws))
    (buffer-substring-no-properties (point-min) (point-max))))

(defun mc-alone ()
  "An ask task editing the open a.py twice and the closed b.py once, an explain task, a follow-up."
  (let* ((stop (mc-turn (mc-run "edit a.py twice and b.py once")))
         (explain (mc-run "explain a.py" '(:showResult t :permissionMode "plan")))
         (explain-stop (mc-turn explain))
         (follow-stop (mc-turn (mc-run "and then?" `(:sessionId ,(plist-get explain :sessionId))))))
    (accept-process-output nil 1.0)
    `((stop . ,stop) (explain . ,explain-stop) (followup . ,follow-stop) (a_buffer . ,(mc-a-text))
      (b_buffer_open . ,(if (get-file-buffer (expand-file-name "b.py" mc-ws)) t :json-false)))))

(defun mc-beside ()
  "a.py managed by pylsp; an ask task edits it through MiniCode's own connection."
  (let* ((python-server (eglot-current-server))
         (stop (mc-turn (mc-run "edit a.py")))
         (minicode (minicode-server))
         (on-disk (with-temp-buffer (insert-file-contents (expand-file-name "a.py" mc-ws)) (buffer-string))))
    (ignore-errors (mc-wait "a.py's buffer showing the file MiniCode wrote"
                            (lambda () (equal (mc-a-text) on-disk)) 20))
    `((stop . ,stop) (a_buffer . ,(mc-a-text)) (a_disk . ,on-disk)
      (a_modified . ,(if (buffer-modified-p (get-file-buffer (expand-file-name "a.py" mc-ws))) t :json-false))
      (a_server . ,(string-join (process-command (jsonrpc--process (eglot-current-server))) " "))
      (a_server_kept . ,(if (and (eq python-server (eglot-current-server)) (jsonrpc-running-p python-server))
                            t :json-false))
      (minicode_server . ,(string-join (process-command (jsonrpc--process minicode)) " ")))))

(let (result)
  (find-file (expand-file-name "a.py" mc-ws))             ; python-mode, as for a user (a second
                                                         ; (python-mode) would drop auto-revert's mark)
  (apply #'eglot (eglot--guess-contact))     ; eglot-ensure waits for a command loop batch mode never runs
  (condition-case err
      (progn
        (mc-wait "connect" #'eglot-current-server 60)
        (setq result (append (if (equal mc-scenario "beside") (mc-beside) (mc-alone))
                             `((answers_left . ,(length mc-answers))
                               (unexpected . ,(vconcat (reverse mc-unexpected)))
                               (prompts . ,(vconcat (reverse mc-prompts)))
                               (messages . ,(vconcat (reverse mc-messages)))))))
    (error (setq result `((error . ,(error-message-string err)) (unexpected . ,(vconcat (reverse mc-unexpected)))
                          (prompts . ,(vconcat (reverse mc-prompts)))
                          (messages . ,(vconcat (reverse mc-messages)))))))
  (with-temp-file (getenv "MC_OUT") (insert (json-encode result)))
  (maphash (lambda (_p servers) (dolist (s servers) (ignore-errors (eglot-shutdown s)))) eglot--servers-by-project)
  (kill-emacs 0))
