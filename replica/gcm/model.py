"""The Gaussian covariate model (GCM) on its spectral form: model, conventions, ridge saddle point.

Loureiro, Gerbelot, Cui, Goldt, Krzakala, Mézard & Zdeborová, "Learning
curves of generic features maps for realistic datasets with a teacher-student
model", NeurIPS 2021 (the GCM), in the eigenbasis of the student covariance
(the convention shared by :mod:`replica.gcm` and :mod:`replica.gcm_erm`):

* student features ``v`` in ``R^p``; in the eigenbasis of ``Omega`` the
  coordinates ``v_i ~ N(0, omega_i)`` are independent;
* teacher pre-activation ``nu = (1/sqrt p) sum_i theta_i v_i + sqrt(rho_perp) xi``
  (``xi ~ N(0, 1)`` independent of ``v``): the teacher power carried by mode
  ``i`` is ``omega_i theta_i**2 / p``; ``rho = (1/p) sum_i omega_i theta_i**2 +
  rho_perp`` is the teacher's second moment;
* labels ``y ~ channel(nu)`` (:mod:`lmech.blocks.channels`);
* estimator ``w_hat = argmin_w sum_{mu=1}^n loss(y_mu, w.v_mu/sqrt p) +
  (lambda/2)|w|**2`` (a sum over samples, as :class:`replica.ERM`),
  ``alpha = n/p``;
* overlaps ``m = (1/p) sum_i theta_i omega_i w_i``, ``q = (1/p) sum_i omega_i
  w_i**2``; errors from ``Channel.test_error(m, q, rho)`` as in
  :class:`replica.ERM` (regression: the excess error ``rho + q - 2m``).

Only ``theta_i**2`` enters the replica-symmetric equations, so a model is the
three spectral objects ``omega`` (p,), ``theta2`` (p,) and ``rho_perp``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lmech.blocks.losses import Loss, get_loss
from lmech.checks import check_array, check_choice, check_real
from lmech.spec import Model, param, register_model

from ..blocks import Channel, Linear, SignFamily, get_channel, resolve_block

__all__ = ["CONVENTIONS", "GaussianCovariateModel", "convert_source_exponent", "SOURCE_CONVENTIONS"]

CONVENTIONS = {
    "data": "student features v_i ~ N(0, omega_i) in the eigenbasis of Omega (i = 1..p); "
            "pre-activation h = w.v / sqrt(p); alpha = n / p",
    "teacher": "nu = (1/sqrt p) sum_i theta_i v_i + sqrt(rho_perp) xi; teacher power of mode i "
               "omega_i theta_i^2 / p; rho = (1/p) sum_i omega_i theta_i^2 + rho_perp",
    "matrices": "Omega = sum_i omega_i e_i e_i^T; theta_i = sqrt(p/k) e_i^T Omega^-1 Phi^T theta0; "
                "rho = theta0^T Psi theta0 / k (teacher nu = theta0.u / sqrt k, u ~ N(0, Psi))",
    "penalty": "(lambda / 2) |w|^2 added to the sum (not mean) of the losses",
    "regression_error": "excess error rho + q - 2m = E (nu - h)^2 (add Delta for the noisy label)",
    "classification_error": "Channel.test_error(m, q, rho) as replica.ERM",
    "kernel": "KRR with kernel eigenvalues eta_k and target f* = sum_k c_k phi_k (E phi_k phi_l = "
              "delta_kl): omega_k = p eta_k, theta_k^2 = p c_k^2 / omega_k = c_k^2 / eta_k, "
              "rho_perp = target power outside the kernel's modes; the KRR ridge "
              "sum_mu (y - f)^2 / 2 + (lambda/2) |f|_H^2 is this lambda",
    "power_law": "omega_k = k^-a (capacity a > 1); teacher power omega_k theta_k^2 / p = k^-b, "
                 "b = 1 + 2 a r with r the source exponent of Cui et al. (NeurIPS 2021)",
    "source_exponent": "r of Cui, Loureiro, Krzakala & Zdeborova, NeurIPS 2021 (tr Sigma^(1-2r) "
                       "theta theta^T < inf); Caponnetto-De Vito's c = 2r; interpolation-space "
                       "s = 2r; convert with replica.convert_source_exponent",
}


# ---------------------------------------------------------------------------
# source exponents: the conventions of the literature and the converter
# ---------------------------------------------------------------------------
#: the conventions :func:`convert_source_exponent` knows, each as its map to Cui's r
SOURCE_CONVENTIONS = {
    "cui": "r of Cui, Loureiro, Krzakala & Zdeborova, NeurIPS 2021: teacher power per mode "
           "~ k^-(1 + 2 a r) (this package's convention)",
    "cdv": "c of Caponnetto & De Vito, Found. Comput. Math. 7, 331 (2007): f_H in the range of "
           "L_K^((c-1)/2) in the RKHS norm; c = 2r (their rate n^(-bc/(bc+1)) with b = a)",
    "interpolation": "s of the interpolation spaces [H]^s (Fischer & Steinwart, JMLR 2020): "
                     "f* in [H]^s; s = 2r",
    "target_decay": "b: teacher power per mode (target coefficient squared in an orthonormal "
                    "eigenbasis) ~ k^-b, the decay exponent of Spigler et al. / Bordelon et al.; "
                    "b = 1 + 2 a r (needs the capacity a)",
}


def convert_source_exponent(value, *, frm: str, to: str, a: float | None = None) -> float:
    """Convert a source exponent between the conventions of the literature.

    Parameters
    ----------
    value : float
        The exponent in convention ``frm``.
    frm, to : str
        One of :data:`SOURCE_CONVENTIONS`: ``"cui"`` (``r`` of Cui et al.,
        NeurIPS 2021, the one used here), ``"cdv"`` (``c = 2r`` of Caponnetto &
        De Vito 2007), ``"interpolation"`` (``s = 2r``, ``f* in [H]^s``),
        ``"target_decay"`` (``b = 1 + 2 a r``: power of the target on the
        ``k``-th eigenfunction ``~ k^-b``).
    a : float, optional
        Capacity exponent (eigenvalues ``~ k^-a``), needed by ``"target_decay"``.

    Notes
    -----
    With eigenvalues ``omega_k = k^-a`` and teacher power ``omega_k theta_k**2 =
    k^-(1 + 2 a r)``, ``tr Omega^(1 - 2r') theta theta^T = sum_k k^(-1 - 2a(r -
    r'))`` is finite for every ``r' < r``: ``r`` is the largest source exponent
    of Cui et al. (their source condition), and the same target lies in the
    range of ``T^(r')`` for ``r' < r`` (Caponnetto-De Vito's ``c/2``; the
    interpolation space ``[H]^(2r')``).  The two halves of the literature differ
    by this factor 2 (and Caponnetto-De Vito write the condition in the RKHS norm,
    ``(c - 1)/2``, which is ``c/2`` in ``L^2``).
    """
    check_choice("frm", frm, tuple(SOURCE_CONVENTIONS))
    check_choice("to", to, tuple(SOURCE_CONVENTIONS))
    value = check_real("value", value)
    if "target_decay" in (frm, to):
        if a is None:
            raise ValueError("a: the target-decay convention needs the capacity exponent a (> 0)")
        a = check_real("a", a, low=0.0, low_open=True)
    if frm == "cui":
        r = value
    elif frm in ("cdv", "interpolation"):
        r = value / 2.0
    else:
        r = (value - 1.0) / (2.0 * a)
    if to == "cui":
        return r
    if to in ("cdv", "interpolation"):
        return 2.0 * r
    return 1.0 + 2.0 * a * r


# ---------------------------------------------------------------------------
# the model
# ---------------------------------------------------------------------------
def resolve_loss_channel(model) -> None:
    """Resolve ``model.loss`` and ``model.channel`` (names or None) to blocks, in place, and check them.

    The one rule of the GCM and of models that build one (:class:`replica.RandomFeatures`): the loss
    defaults to square, the channel to linear with ``delta = 0``; a linear channel needs a regression
    loss, any other channel must be a sign family.  Raises ValueError naming ``loss`` or ``channel``.
    """
    if model.loss is None or isinstance(model.loss, str):
        object.__setattr__(model, "loss", resolve_block("loss", model.loss, get_loss, "square"))
    if model.channel is None:
        object.__setattr__(model, "channel", get_channel("linear", delta=0.0))
    elif isinstance(model.channel, str):
        object.__setattr__(model, "channel", resolve_block("channel", model.channel, get_channel, "linear"))
    if not isinstance(model.loss, Loss):
        raise ValueError(f"loss must be a loss of lmech.blocks.losses, got {model.loss!r}")
    if isinstance(model.channel, Linear):
        if not model.loss.regression:
            raise ValueError("loss: a linear teacher channel needs a regression loss (square, huber, ...)")
    elif not isinstance(model.channel, SignFamily):
        raise ValueError(f"channel must be linear or a sign family (sign, label-flip, probit), "
                         f"got {model.channel!r}")


def _frozen(arr: np.ndarray) -> np.ndarray:
    arr = np.array(arr, dtype=np.float64, copy=True)
    arr.setflags(write=False)
    return arr


@register_model("replica.GaussianCovariateModel")
@dataclass(frozen=True, eq=False)
class GaussianCovariateModel(Model):
    """Gaussian covariate model on its spectral form (Loureiro et al., NeurIPS 2021).

    Parameters
    ----------
    omega : array (p,)
        Student covariance eigenvalues ``omega_i > 0``.
    theta2 : array (p,)
        Squared teacher weights in the student eigenbasis, ``theta_i**2 >= 0``
        (teacher power of mode ``i``: ``omega_i theta_i**2 / p``).
    rho_perp : float
        Teacher power outside the student's features (``>= 0``; acts as noise).
    loss : Loss or str
        Training loss of :mod:`lmech.blocks.losses` (default ``square``).
    reg : float
        Ridge ``lambda >= 0`` (penalty ``lambda |w|**2 / 2`` on the *sum* of
        the losses).  ``lambda = 0`` is the ``lambda -> 0`` limit (minimum-norm
        interpolator where the data can be interpolated).
    channel : Channel or str
        Teacher channel: ``linear`` (with a regression loss; its ``delta`` is
        the label-noise variance) or a sign family (``sign``, ``label-flip``,
        ``probit``).  Default: ``linear`` with ``delta = 0``.

    Notes
    -----
    Build it from matrices with :meth:`from_matrices`, from a kernel spectrum
    with :meth:`from_kernel`, from power laws with :meth:`power_law`.
    Equality is identity (the spectra are arrays); :meth:`spectra` returns the
    read-only float64 arrays ``(omega, theta2, rho_perp)`` every solver takes.
    """

    omega: np.ndarray = param(type=np.ndarray, spec=False, help="student covariance eigenvalues (p,)")
    theta2: np.ndarray = param(type=np.ndarray, spec=False,
                               help="squared teacher weights in the student eigenbasis (p,)")
    rho_perp: float = param(0.0, low=0.0, help="teacher power outside the student features")
    loss: Loss = param(None, type=(str, Loss), spec=False, help="training loss (default square)")
    reg: float = param(1.0, low=0.0, help="L2 strength lambda (penalty lambda |w|^2 / 2)")
    channel: Channel = param(None, type=(str, Channel), spec=False,
                             help="teacher channel (default linear with delta = 0)")

    def __post_init__(self):
        # arrays first (lists are accepted), so that the field check sees an ndarray
        omega = check_array("omega", self.omega, ndim=1, min_size=1)
        theta2 = check_array("theta2", self.theta2, ndim=1, min_size=1)
        if theta2.shape != omega.shape:
            raise ValueError(f"theta2 must have the shape of omega {omega.shape}, got {theta2.shape}")
        if not np.all(omega > 0.0):
            raise ValueError(f"omega must be > 0 (covariance eigenvalues), got min {omega.min()!r}")
        if not np.all(theta2 >= 0.0):
            raise ValueError(f"theta2 must be >= 0 (squared weights), got min {theta2.min()!r}")
        object.__setattr__(self, "omega", _frozen(omega))
        object.__setattr__(self, "theta2", _frozen(theta2))
        super().__post_init__()

    def check(self):
        resolve_loss_channel(self)
        if self.rho <= 0.0:
            raise ValueError("theta2: the teacher has no power (theta2 = 0 and rho_perp = 0)")

    # -- derived quantities ----------------------------------------------------
    @property
    def p(self) -> int:
        """Number of student modes."""
        return int(self.omega.size)

    @property
    def rho(self) -> float:
        """Teacher second moment ``(1/p) sum_i omega_i theta_i**2 + rho_perp``."""
        return float(np.mean(self.omega * self.theta2)) + float(self.rho_perp)

    @property
    def classification(self) -> bool:
        return isinstance(self.channel, SignFamily)

    @property
    def ridge(self) -> bool:
        """True for the square loss on a linear channel (closed-form saddle point)."""
        from lmech.blocks.losses import Square

        return isinstance(self.loss, Square) and isinstance(self.channel, Linear)

    def spectra(self):
        """``(omega, theta2, rho_perp)``: read-only float64 arrays (p,) and a float."""
        return self.omega, self.theta2, float(self.rho_perp)

    def with_(self, **changes) -> "GaussianCovariateModel":
        """A copy with fields replaced (``reg=...``, ``channel=...``), sharing the spectra."""
        fields = dict(omega=self.omega, theta2=self.theta2, rho_perp=self.rho_perp, loss=self.loss,
                      reg=self.reg, channel=self.channel)
        fields.update(changes)
        return GaussianCovariateModel(**fields)

    def __repr__(self):
        return (f"GaussianCovariateModel(p={self.p}, rho={self.rho:.6g}, rho_perp={self.rho_perp:.6g}, "
                f"loss={self.loss!r}, reg={self.reg!r}, channel={self.channel!r})")

    # -- constructors --------------------------------------------------------------
    @classmethod
    def from_matrices(cls, Psi, Omega, Phi, theta0, *, loss=None, reg=1.0, channel=None,
                      psd_tol: float = 1e-10) -> "GaussianCovariateModel":
        """The GCM given by its covariances (eigendecomposes ``Omega`` once).

        Parameters
        ----------
        Psi : array (k, k)
            Teacher feature covariance ``E u u^T``.
        Omega : array (p, p)
            Student feature covariance ``E v v^T`` (positive definite).
        Phi : array (k, p)
            Cross covariance ``E u v^T``.
        theta0 : array (k,)
            Teacher weights: ``nu = theta0.u / sqrt(k)``.
        psd_tol : float
            Relative tolerance on ``rho_perp >= 0`` (the Schur complement
            ``Psi - Phi Omega^-1 Phi^T`` must be positive semi-definite);
            a ``rho_perp`` in ``[-psd_tol rho, 0)`` is rounding and set to 0.

        Notes
        -----
        ``theta_i = sqrt(p/k) e_i^T Omega^-1 Phi^T theta0`` (the regression of
        ``nu`` on ``v`` in ``Omega``'s eigenbasis), ``rho = theta0^T Psi theta0 / k``,
        ``rho_perp = rho - (1/p) sum_i omega_i theta_i**2``.
        """
        Omega = check_array("Omega", Omega, ndim=2)
        p = Omega.shape[0]
        if Omega.shape != (p, p):
            raise ValueError(f"Omega must be square, got shape {Omega.shape}")
        Psi = check_array("Psi", Psi, ndim=2)
        k = Psi.shape[0]
        if Psi.shape != (k, k):
            raise ValueError(f"Psi must be square, got shape {Psi.shape}")
        Phi = check_array("Phi", Phi, shape=(k, p))
        theta0 = check_array("theta0", theta0, shape=(k,))
        psd_tol = check_real("psd_tol", psd_tol, low=0.0)
        if not np.allclose(Omega, Omega.T, rtol=1e-12, atol=1e-12 * np.abs(Omega).max()):
            raise ValueError("Omega must be symmetric")
        if not np.allclose(Psi, Psi.T, rtol=1e-12, atol=1e-12 * max(np.abs(Psi).max(), 1e-300)):
            raise ValueError("Psi must be symmetric")
        omega, E = np.linalg.eigh(0.5 * (Omega + Omega.T))
        if omega[0] <= 0.0:
            raise ValueError(f"Omega must be positive definite, smallest eigenvalue {omega[0]!r}")
        theta = math.sqrt(p / k) * (E.T @ (Phi.T @ theta0)) / omega
        rho = float(theta0 @ Psi @ theta0) / k
        rho_perp = rho - float(np.mean(omega * theta * theta))
        if rho_perp < 0.0:
            if rho_perp < -psd_tol * max(rho, 1e-300):
                raise ValueError(f"Psi, Phi: the joint covariance of (u, v) is not positive semi-definite "
                                 f"(rho_perp = {rho_perp!r} < 0)")
            rho_perp = 0.0
        order = np.argsort(-omega, kind="stable")   # decreasing eigenvalues
        return cls(omega=omega[order], theta2=(theta * theta)[order], rho_perp=rho_perp, loss=loss,
                   reg=reg, channel=channel)

    @classmethod
    def from_kernel(cls, eigenvalues, target_coef, *, noise=0.0, reg=1.0, target_residual=0.0
                    ) -> "GaussianCovariateModel":
        """Kernel ridge regression as a GCM (Canatar, Bordelon & Pehlevan, Nat. Commun. 12, 2914 (2021)).

        Parameters
        ----------
        eigenvalues : array (p,)
            Kernel eigenvalues ``eta_k > 0`` (Mercer, ``K(x, x') = sum_k eta_k phi_k(x) phi_k(x')``).
        target_coef : array (p,)
            Target coefficients ``c_k``: ``f* = sum_k c_k phi_k`` with ``E phi_k phi_l = delta_kl``
            (Canatar's ``wbar_k`` is ``c_k / sqrt(eta_k)``).
        noise : float
            Label-noise variance ``sigma**2`` (the linear channel's ``delta``).
        reg : float
            KRR ridge ``lambda`` on ``sum_mu (y_mu - f(x_mu))**2 / 2 + (lambda/2) |f|_H**2``
            (the same ``lambda`` as Canatar's ``sum (f - y)**2 + lambda |f|_H**2``).
        target_residual : float
            Power of the target outside the kernel's modes (``rho_perp``).

        Notes
        -----
        ``omega_k = p eta_k``, ``theta_k**2 = c_k**2 / eta_k`` (teacher power of mode ``k``:
        ``omega_k theta_k**2 / p = c_k**2``), ``alpha = n / p`` with ``n`` Canatar's ``P``.
        Canatar's ``kappa`` is the result's ``kappa`` (``alpha t``).
        """
        eta = check_array("eigenvalues", eigenvalues, ndim=1, min_size=1)
        c = check_array("target_coef", target_coef, shape=eta.shape)
        if not np.all(eta > 0.0):
            raise ValueError(f"eigenvalues must be > 0, got min {eta.min()!r}")
        noise = check_real("noise", noise, low=0.0)
        return cls(omega=eta.size * eta, theta2=c * c / eta, rho_perp=target_residual, reg=reg,
                   channel=get_channel("linear", delta=noise))

